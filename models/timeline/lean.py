"""Lean reads: one Core statement per page of posts (or per post, or per account) that
returns every column its answer needs, with no ORM instances and no SQL built per request.

A read names what it needs as a `PostPick` or `AccountPick` tree (columns, the author, the
original of a repost, the post replied to, whether the viewer likes it, how many replies the
viewer may see); `page_read`, `post_read` and `account_read` build the statement once, with
bound parameters for everything that varies (`VIEWER`, `KEY`, `BEFORE`, `LIMIT`, ...), and
say where each value sits in a row (`PostSlots`, `AccountSlots`). The rules are the general
path's own: the same `models.posts.policies` predicates and the same timeline statements
(`models.timeline.queries`), so both paths answer alike (`tests/api/test_compiled.py`
compares them).

When the viewer's session was taken from a cache (`app/compiled.py`), the first statement of
the operation also says whether that session is still alive (`session_alive`): a revoked,
expired or suspended session is refused in the same round trip, never served from the
cache."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from models.accounts.actions import session_in_force
from models.accounts.tables import Account, LoginSession
from models.base import UTCDateTime
from models.posts import policies
from models.posts.tables import Like, Post
from models.social.tables import Block, Follow
from models.timeline import queries
from models.timeline.tables import FeedEntry

VIEWER = bindparam("viewer", type_=BigInteger, required=False)
SESSION = bindparam("session", type_=BigInteger, required=False)
NOW = bindparam("now", type_=UTCDateTime(), required=False)
KEY = bindparam("key", type_=BigInteger, required=False)  # the author, the thread's root, the post
BEFORE = bindparam("before", type_=BigInteger, required=False)
LIMIT = bindparam("limit", type_=Integer, required=False)
HANDLE_KEY = bindparam("handle_key", type_=String, required=False)
DIGEST = bindparam("digest", type_=String, required=False)  # a bearer token's SHA-256

ACCOUNT_COLUMNS = frozenset(
    {
        "id",
        "handle",
        "display_name",
        "bio",
        "avatar_url",
        "created_at",
        "followers_count",
        "following_count",
        "posts_count",
    }
)
POST_COLUMNS = frozenset(
    {
        "id",
        "body",
        "visibility",
        "created_at",
        "edited_at",
        "like_count",
        "repost_count",
        "sensitive",
        "hidden_at",
        "thread_root_id",
    }
)


class Source(Enum):
    """Which list a page reads."""

    HOME = "home"  # the viewer's home feed (needs a viewer)
    PUBLIC = "public"  # the public feed
    ACCOUNT = "account"  # one account's posts: KEY is the author
    THREAD = "thread"  # a thread, oldest first: KEY is the root


@dataclass(frozen=True)
class AccountPick:
    columns: frozenset[str] = frozenset()
    viewer_follows: bool = False


@dataclass(frozen=True)
class PostPick:
    columns: frozenset[str] = frozenset()
    author: AccountPick | None = None
    repost_of: PostPick | None = None
    reply_to: PostPick | None = None
    viewer_has_liked: bool = False
    reply_count: bool = False


@dataclass(frozen=True)
class AccountSlots:
    """Where an account's values sit in a row: `id` is None when the account is absent."""

    id: int
    columns: dict[str, int]
    viewer_follows: int | None = None


@dataclass(frozen=True)
class PostSlots:
    id: int
    columns: dict[str, int]
    author: AccountSlots | None = None
    repost_of: PostSlots | None = None
    reply_to: PostSlots | None = None
    viewer_has_liked: int | None = None
    reply_count: int | None = None


@dataclass
class LeanRead:
    """A statement and where its values sit. `key` is the index of the page's keyset key
    (cursors); `alive` the index of `session_alive()` when the read checks the session."""

    statement: Select[Any]
    slots: Any
    key: int | None = None
    alive: int | None = None
    # Compiled forms by dialect name (see `app/compiled.py`).
    compiled: dict[str, Any] = field(default_factory=dict, repr=False)


class _Columns:
    def __init__(self) -> None:
        self.items: list[ColumnElement[Any]] = []

    def add(self, expr: Any) -> int:
        self.items.append(expr.label(f"c{len(self.items)}"))
        return len(self.items) - 1


def _viewer(signed_in: bool) -> Any:
    return VIEWER if signed_in else None


def session_alive() -> ColumnElement[bool]:
    """Whether the session SESSION is still alive at NOW, as `authenticate` would find it."""
    # Never correlated: `accounts` here is the session's account, whatever the outer
    # statement reads.
    return (
        exists()
        .where(
            LoginSession.id == SESSION,
            Account.id == LoginSession.account_id,
            session_in_force(NOW),
        )
        .correlate(None)
    )


def _follows(viewer: Any, account: Any) -> ColumnElement[bool]:
    """Whether the viewer (an expression, or None when signed out) follows the account."""
    if viewer is None:
        return false()
    return exists().where(Follow.follower_id == viewer, Follow.followee_id == account.id)


def _liked(viewer: Any, post: Any) -> ColumnElement[bool]:
    if viewer is None:
        return false()
    return exists().where(Like.account_id == viewer, Like.post_id == post.id)


def _visible_replies(viewer: Any, post: Any) -> ColumnElement[Any]:
    """How many replies to the post the viewer may see (no subquery when it has none)."""
    reply = aliased(Post)
    counted = (
        select(func.count())
        .select_from(reply)
        .where(reply.reply_to_id == post.id, policies.visible_to(viewer, reply))
        .scalar_subquery()
    )
    return case((post.reply_count == 0, literal(0)), else_=counted)


def _account(columns: _Columns, account: Any, pick: AccountPick, signed_in: bool) -> AccountSlots:
    ident = columns.add(account.id)
    slots = {name: columns.add(getattr(account, name)) for name in sorted(pick.columns)}
    follows = None
    if pick.viewer_follows:
        follows = columns.add(_follows(_viewer(signed_in), account))
    return AccountSlots(ident, slots, follows)


def _post(
    stmt: Select[Any], columns: _Columns, post: Any, pick: PostPick, signed_in: bool
) -> tuple[Select[Any], PostSlots]:
    viewer = _viewer(signed_in)
    ident = columns.add(post.id)
    slots = {name: columns.add(getattr(post, name)) for name in sorted(pick.columns)}
    author = None
    if pick.author is not None:
        person = aliased(Account)
        stmt = stmt.outerjoin(person, person.id == post.author_id)
        author = _account(columns, person, pick.author, signed_in)
    liked = columns.add(_liked(viewer, post)) if pick.viewer_has_liked else None
    replies = columns.add(_visible_replies(viewer, post)) if pick.reply_count else None
    nested: dict[str, PostSlots | None] = {"repost_of": None, "reply_to": None}
    for name in nested:
        inner_pick: PostPick | None = getattr(pick, name)
        if inner_pick is None:
            continue
        inner = aliased(Post)
        stmt = stmt.outerjoin(
            inner,
            and_(inner.id == getattr(post, f"{name}_id"), policies.visible_to(viewer, inner)),
        )
        stmt, nested[name] = _post(stmt, columns, inner, inner_pick, signed_in)
    return stmt, PostSlots(
        ident,
        slots,
        author,
        nested["repost_of"],
        nested["reply_to"],
        liked,
        replies,
    )


def _finish(
    base: Select[Any], pick: PostPick, *, signed_in: bool, check_session: bool
) -> tuple[Select[Any], PostSlots, int | None, list[ColumnElement[Any]]]:
    columns = _Columns()
    alive = columns.add(session_alive()) if check_session else None
    stmt, slots = _post(base, columns, Post, pick, signed_in)
    return stmt, slots, alive, columns.items


def page_read(
    source: Source, pick: PostPick, *, signed_in: bool, after: bool, check_session: bool
) -> LeanRead:
    """A page of `source`, newest first (a thread oldest first), LIMIT rows (ask one more
    than the page to learn whether another follows), after BEFORE when `after`."""
    viewer = _viewer(signed_in)
    if source is Source.HOME:
        base = queries.home_statement(VIEWER)
        order_key: Any = FeedEntry.post_id
    elif source is Source.PUBLIC:
        base, order_key = queries.public_statement(viewer), Post.id
    elif source is Source.ACCOUNT:
        base, order_key = queries.account_statement(viewer, KEY), Post.id
    else:
        base, order_key = queries.thread_statement(viewer, KEY), Post.id
    oldest_first = source is Source.THREAD
    if after:
        base = base.where(order_key > BEFORE if oldest_first else order_key < BEFORE)
    base = base.order_by(order_key.asc() if oldest_first else order_key.desc()).limit(LIMIT)
    stmt, slots, alive, items = _finish(
        base.with_only_columns(Post.id), pick, signed_in=signed_in, check_session=check_session
    )
    return LeanRead(stmt.with_only_columns(*items), slots, key=slots.id, alive=alive)


def post_read(pick: PostPick, *, signed_in: bool, check_session: bool) -> LeanRead:
    """The post KEY if the viewer may see it (`post`, `node`)."""
    base = select(Post.id).where(Post.id == KEY, policies.visible_to(_viewer(signed_in)))
    stmt, slots, alive, items = _finish(
        base, pick, signed_in=signed_in, check_session=check_session
    )
    return LeanRead(stmt.with_only_columns(*items), slots, alive=alive)


def account_read(
    pick: AccountPick, *, by_handle: bool, signed_in: bool, check_session: bool
) -> LeanRead:
    """The account KEY (or HANDLE_KEY) unless a block stands between it and the viewer."""
    columns = _Columns()
    alive = columns.add(session_alive()) if check_session else None
    slots = _account(columns, Account, pick, signed_in)
    where: list[ColumnElement[bool]] = [
        Account.handle_key == HANDLE_KEY if by_handle else Account.id == KEY
    ]
    if signed_in:
        where.append(
            ~exists().where(
                or_(
                    and_(Block.blocker_id == VIEWER, Block.blocked_id == Account.id),
                    and_(Block.blocker_id == Account.id, Block.blocked_id == VIEWER),
                )
            )
        )
    return LeanRead(select(*columns.items).where(*where), slots, alive=alive)


@functools.cache
def token_read() -> LeanRead:
    """The account and session behind a token digest (DIGEST), as
    `models.accounts.actions.authenticate` finds them."""
    stmt: Any = (
        select(LoginSession.account_id, LoginSession.id)
        .join(Account, Account.id == LoginSession.account_id)
        .where(LoginSession.token_hash == DIGEST, session_in_force(NOW))
    )
    return LeanRead(stmt, None)


@functools.cache
def session_read() -> LeanRead:
    """Only whether the session is alive (an operation whose reads found nothing)."""
    columns = _Columns()
    alive = columns.add(session_alive())
    return LeanRead(select(*columns.items), None, alive=alive)


# Live delivery (`models/timeline/shared.py`): a new post is read once per event, and what
# differs between the viewers it reaches is read for all of them in one statement.
VIEWERS = bindparam("viewers", type_=ARRAY(BigInteger), required=False)


@dataclass
class LiveRead:
    """How one live event's post is read for many viewers at once.

    `base` reads, once, everything that is the same for every viewer (the post's and its
    authors' columns, the nested posts' columns), with no visibility rule. The facts read
    what differs between viewers: whether the viewer may see the post (`visible`, the first
    fact), whether they like it or follow its author, how many replies they may see, and the
    id of each nested post when they may see it (null otherwise). `many` reads them for the
    signed-in viewers in VIEWERS (PostgreSQL: `unnest`, the viewer first in each row), `one`
    for the viewer VIEWER (SQLite, one statement per viewer), `anonymous` for a signed-out
    subscriber. A viewer's answer is `slots` over `merge(base row, facts)`."""

    base: LeanRead
    many: LeanRead
    one: LeanRead
    anonymous: LeanRead
    slots: PostSlots
    size: int
    base_positions: tuple[int, ...]
    fact_positions: tuple[int, ...]

    def merge(self, base: Sequence[Any], facts: Sequence[Any]) -> list[Any]:
        """One row in the slots' numbering from the base row and a viewer's facts (the
        visibility fact first, not part of the row)."""
        row: list[Any] = [None] * self.size
        for position, value in zip(self.base_positions, base, strict=True):
            row[position] = value
        for position, value in zip(self.fact_positions, facts[1:], strict=True):
            row[position] = value
        return row


class _LiveColumns:
    """Columns in one numbering, each either in the base statement or among the facts."""

    def __init__(self) -> None:
        self.base: list[ColumnElement[Any]] = []
        self.facts: list[ColumnElement[Any]] = []
        self.base_positions: list[int] = []
        self.fact_positions: list[int] = []
        self.size = 0

    def add(self, expr: Any, *, fact: bool = False) -> int:
        position, self.size = self.size, self.size + 1
        items, positions = (
            (self.facts, self.fact_positions) if fact else (self.base, self.base_positions)
        )
        items.append(expr.label(f"c{position}"))
        positions.append(position)
        return position


def _live_post(
    columns: _LiveColumns,
    joins: list[tuple[Any, ColumnElement[bool]]],
    post: Any,
    pick: PostPick,
    viewer: Any,
    ident: int,
) -> PostSlots:
    """`_post` for live delivery: the viewer-dependent values become facts."""
    slots = {name: columns.add(getattr(post, name)) for name in sorted(pick.columns)}
    author = None
    if pick.author is not None:
        person = aliased(Account)
        joins.append((person, person.id == post.author_id))
        author = AccountSlots(
            columns.add(person.id),
            {name: columns.add(getattr(person, name)) for name in sorted(pick.author.columns)},
            columns.add(_follows(viewer, person), fact=True)
            if pick.author.viewer_follows
            else None,
        )
    liked = columns.add(_liked(viewer, post), fact=True) if pick.viewer_has_liked else None
    replies = columns.add(_visible_replies(viewer, post), fact=True) if pick.reply_count else None
    nested: dict[str, PostSlots | None] = {"repost_of": None, "reply_to": None}
    for name in nested:
        inner_pick: PostPick | None = getattr(pick, name)
        if inner_pick is None:
            continue
        inner = aliased(Post)
        joins.append((inner, inner.id == getattr(post, f"{name}_id")))
        seen = columns.add(case((policies.visible_to(viewer, inner), inner.id)), fact=True)
        nested[name] = _live_post(columns, joins, inner, inner_pick, viewer, seen)
    return PostSlots(ident, slots, author, nested["repost_of"], nested["reply_to"], liked, replies)


def _live_walk(
    pick: PostPick, source: Source, viewer: Any
) -> tuple[_LiveColumns, list[tuple[Any, ColumnElement[bool]]], PostSlots]:
    columns = _LiveColumns()
    if source is Source.PUBLIC:
        rule = and_(
            policies.visible_to(viewer),
            policies.in_public_feed(viewer),
            policies.not_muted_by(viewer),
        )
    else:
        rule = and_(policies.visible_to(viewer), policies.not_muted_by(viewer))
    columns.facts.append(rule.label("visible"))  # the first fact, outside the numbering
    joins: list[tuple[Any, ColumnElement[bool]]] = []
    slots = _live_post(columns, joins, Post, pick, viewer, columns.add(Post.id))
    return columns, joins, slots


def _joined(stmt: Select[Any], joins: list[tuple[Any, ColumnElement[bool]]]) -> Select[Any]:
    for target, on in joins:
        stmt = stmt.outerjoin(target, on)
    return stmt


def live_read(pick: PostPick, source: Source) -> LiveRead:
    """The statements that read the post KEY of a live `source` event (HOME or PUBLIC) for
    many viewers: the rules are the timelines' own (`visible_to`, `not_muted_by`, and for
    the public feed `in_public_feed`)."""
    anonymous, joins, slots = _live_walk(pick, source, None)
    base = _joined(select(*anonymous.base).select_from(Post), joins).where(Post.id == KEY)
    facts = _joined(select(*anonymous.facts).select_from(Post), joins).where(Post.id == KEY)
    one_columns, one_joins, _ = _live_walk(pick, source, VIEWER)
    one = _joined(select(*one_columns.facts).select_from(Post), one_joins).where(Post.id == KEY)
    viewers = func.unnest(VIEWERS).table_valued("viewer").render_derived(name="viewers")
    # A column by its text: nested subqueries refer to it without each adding `viewers` to
    # their own FROM (SQLAlchemy correlates only to the enclosing SELECT).
    viewer = literal_column("viewers.viewer", BigInteger)
    many_columns, many_joins, _ = _live_walk(pick, source, viewer)
    many = _joined(
        select(viewer, *many_columns.facts).select_from(viewers).join(Post, Post.id == KEY),
        many_joins,
    )
    return LiveRead(
        base=LeanRead(base, slots),
        many=LeanRead(many, slots),
        one=LeanRead(one, slots),
        anonymous=LeanRead(facts, slots),
        slots=slots,
        size=anonymous.size,
        base_positions=tuple(anonymous.base_positions),
        fact_positions=tuple(anonymous.fact_positions),
    )
