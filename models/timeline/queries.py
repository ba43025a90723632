"""Keyset-paged reads of every timeline. Cursors are the last id seen, so a page never
shifts when new posts arrive: no duplicates, no gaps."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account
from models.pages import Page
from models.posts import policies
from models.posts.tables import PUBLIC, Post
from models.social.tables import Block, Follow
from models.timeline.tables import FeedEntry


async def _newest_first(
    session: AsyncSession, stmt: Select[Post], *, first: int, before: int | None
) -> Page[Post]:
    if before is not None:
        stmt = stmt.where(Post.id < before)
    rows = list(await session.scalars(stmt.order_by(Post.id.desc()).limit(first + 1)))
    return Page(items=[(p.id, p) for p in rows[:first]], has_next=len(rows) > first)


def home_statement(viewer_id: Any) -> Select[Post]:
    """The home feed: the viewer's materialised entries, live, visible and not muted."""
    return (
        select(Post)
        .join(FeedEntry, FeedEntry.post_id == Post.id)
        .where(
            FeedEntry.owner_id == viewer_id,
            policies.visible_to(viewer_id),
            policies.not_muted_by(viewer_id),
        )
    )


async def home_page(
    session: AsyncSession, *, viewer_id: int, first: int, before: int | None
) -> Page[Post]:
    """Own posts and followees' posts and reposts, newest first."""
    stmt = home_statement(viewer_id)
    if before is not None:
        stmt = stmt.where(FeedEntry.post_id < before)
    rows = list(await session.scalars(stmt.order_by(FeedEntry.post_id.desc()).limit(first + 1)))
    return Page(items=[(p.id, p) for p in rows[:first]], has_next=len(rows) > first)


async def account_page(
    session: AsyncSession, *, viewer_id: int | None, author_id: int, first: int, before: int | None
) -> Page[Post]:
    """One account's posts, replies and reposts that the viewer may see, newest first; no
    repost of an author the viewer muted."""
    stmt = account_statement(viewer_id, author_id)
    return await _newest_first(session, stmt, first=first, before=before)


def account_statement(viewer_id: Any, author_id: Any) -> Select[Post]:
    return select(Post).where(
        Post.author_id == author_id,
        policies.visible_to(viewer_id),
        policies.repost_not_muted_by(viewer_id),
    )


async def public_page(
    session: AsyncSession, *, viewer_id: int | None, first: int, before: int | None
) -> Page[Post]:
    """Every public top-level post, newest first, less the viewer's blocks and mutes and
    limited accounts."""
    stmt = public_statement(viewer_id)
    return await _newest_first(session, stmt, first=first, before=before)


def public_statement(viewer_id: Any) -> Select[Post]:
    return select(Post).where(
        # Inline, not a parameter: a generic plan must still match the partial index.
        Post.visibility == literal(PUBLIC, literal_execute=True),
        Post.deleted_at.is_(None),
        Post.reply_to_id.is_(None),
        policies.visible_to(viewer_id),
        policies.in_public_feed(viewer_id),
        policies.not_muted_by(viewer_id),
    )


async def thread_page(
    session: AsyncSession, *, viewer_id: int | None, root_id: int, first: int, after: int | None
) -> Page[Post]:
    """A thread's root and replies that the viewer may see, oldest first."""
    stmt = thread_statement(viewer_id, root_id)
    if after is not None:
        stmt = stmt.where(Post.id > after)
    rows = list(await session.scalars(stmt.order_by(Post.id.asc()).limit(first + 1)))
    return Page(items=[(p.id, p) for p in rows[:first]], has_next=len(rows) > first)


def thread_statement(viewer_id: Any, root_id: Any) -> Select[Post]:
    return select(Post).where(
        or_(Post.id == root_id, Post.thread_root_id == root_id), policies.visible_to(viewer_id)
    )


def _not_blocked_with(viewer_id: int | None) -> ColumnElement[bool]:
    if viewer_id is None:
        return true()
    return ~exists().where(
        or_(
            and_(Block.blocker_id == viewer_id, Block.blocked_id == Account.id),
            and_(Block.blocker_id == Account.id, Block.blocked_id == viewer_id),
        )
    )


async def followers_page(
    session: AsyncSession,
    *,
    viewer_id: int | None,
    account_id: int,
    first: int,
    before: int | None,
) -> Page[Account]:
    """Accounts following `account_id`, most recent follow first, less any account a block
    stands between the viewer and."""
    stmt = (
        select(Follow.id, Account)
        .join(Account, Account.id == Follow.follower_id)
        .where(Follow.followee_id == account_id, _not_blocked_with(viewer_id))
    )
    return await _edges(session, stmt, first=first, before=before)


async def following_page(
    session: AsyncSession,
    *,
    viewer_id: int | None,
    account_id: int,
    first: int,
    before: int | None,
) -> Page[Account]:
    """Accounts that `account_id` follows, most recent follow first, less any account a
    block stands between the viewer and."""
    stmt = (
        select(Follow.id, Account)
        .join(Account, Account.id == Follow.followee_id)
        .where(Follow.follower_id == account_id, _not_blocked_with(viewer_id))
    )
    return await _edges(session, stmt, first=first, before=before)


async def _edges(
    session: AsyncSession, stmt: Select[int, Account], *, first: int, before: int | None
) -> Page[Account]:
    if before is not None:
        stmt = stmt.where(Follow.id < before)
    rows = list(await session.execute(stmt.order_by(Follow.id.desc()).limit(first + 1)))
    return Page(items=[(r[0], r[1]) for r in rows[:first]], has_next=len(rows) > first)
