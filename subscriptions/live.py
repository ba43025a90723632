"""Live streams for one subscriber: catch-up from the durable log, then live events, in
`seq` order with none lost and none repeated."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.events import actions as events
from models.outages import overloaded, unavailable
from models.posts.tables import PUBLIC
from models.social.tables import Block, Follow, Mute
from subscriptions.events import EventLog, LiveEvent
from subscriptions.hub import Hub

log = logging.getLogger("chirp.live")

CATCH_UP_BATCH = 500
# The event types each stream can deliver (its `accepts` wants no other: tests/unit check),
# and those that may end a stream's authority (`revokes`): catch-up reads only these.
TIMELINE_TYPES = frozenset({events.POST_CREATED})
POST_CHANGE_TYPES = frozenset({events.POST_UPDATED, events.POST_DELETED})
REVOKING_TYPES = frozenset({events.CREDENTIALS_CHANGED, events.SESSIONS_REVOKED})
# Seconds between attempts to re-read a session's authority while the database does not
# answer (about 4 s in all); the stream holds its events meanwhile.
RECHECK_DELAYS = (0.25, 0.5, 1.0, 2.0)
# Catch-up asks SQL for a home timeline's authors by id up to this many; past it, by type.
KEYS_IN_SQL = 500

# The payload field and values an event of a stream's types must have for it to be wanted
# (a superset of what `accepts` takes), or None: all of them.
Keys = tuple[str, AbstractSet[int]]
# 4403 (graphql-transport-ws's Forbidden): clients reconnect, and a revoked session is then
# refused at `connection_init`; the reason says which change it was.
CLOSE_SESSION_REVOKED = 4403
CLOSE_CREDENTIALS_CHANGED = CLOSE_SESSION_REVOKED
SESSION_REVOKED = "Session revoked"
CREDENTIALS_CHANGED = "Credentials changed; reconnect"
CLOSE_SLOW_CONSUMER = 4008
# 1013 (Try Again Later): the process ran out of database connections delivering an event;
# the client resumes with its last cursor after a pause.
CLOSE_OVERLOADED = 1013
OVERLOADED = "Server overloaded; resubscribe with `after` in a few seconds"
# 1011: the database did not answer the authority re-check, so the stream cannot tell
# whether it may go on; the client resumes with its last cursor.
CLOSE_RECHECK_FAILED = 1011
RECHECK_FAILED = "Could not check the session; resubscribe with `after`"


class StreamClosed(Exception):
    """The connection must close: its session was revoked or it could not keep up."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class CursorTooOld(Exception):
    """The client is too far behind to catch up from the log (its cursor's event is older
    than the resume window, more events are due than one catch-up sends, or events after
    its cursor were pruned); it should refetch."""


class CursorAhead(Exception):
    """The cursor is past the end of the log (say, the database was reset): it cannot be
    one this log issued, and resuming from it would silently skip every event."""


# Who a viewer follows, mutes or blocks: most subscribers (every signed-out one) have
# nobody in some of these, and an empty set() is 216 bytes; they share this until one is added.
_NOBODY: frozenset[int] = frozenset()


def _with(ids: AbstractSet[int], account: int) -> AbstractSet[int]:
    if isinstance(ids, set):
        ids.add(account)
        return ids
    return {*ids, account}


def _without(ids: AbstractSet[int], account: int) -> AbstractSet[int]:
    if account not in ids:
        return ids
    left = {i for i in ids if i != account}
    return left or _NOBODY


@dataclass(slots=True)
class ViewerGraph:
    """Who the viewer follows, mutes and blocks (either way), kept current from the viewer's
    own social events as they stream past."""

    viewer_id: int | None
    following: AbstractSet[int] = _NOBODY
    muted: AbstractSet[int] = _NOBODY
    blocked: AbstractSet[int] = _NOBODY

    def hides(self, author: object) -> bool:
        return author in self.muted or author in self.blocked

    @classmethod
    async def load(
        cls, sessionmaker: async_sessionmaker[AsyncSession], viewer_id: int | None
    ) -> ViewerGraph:
        graph = cls(viewer_id)
        if viewer_id is None:
            return graph
        async with sessionmaker() as session:
            following = set(
                await session.scalars(
                    select(Follow.followee_id).where(Follow.follower_id == viewer_id)
                )
            )
            muted = set(
                await session.scalars(select(Mute.muted_id).where(Mute.muter_id == viewer_id))
            )
            blocked = set(
                await session.scalars(select(Block.blocked_id).where(Block.blocker_id == viewer_id))
            ) | set(
                await session.scalars(select(Block.blocker_id).where(Block.blocked_id == viewer_id))
            )
        graph.following = following or _NOBODY
        graph.muted = muted or _NOBODY
        graph.blocked = blocked or _NOBODY
        return graph

    def observe(self, event: LiveEvent) -> None:
        p, me = event.payload, self.viewer_id
        if me is None:
            return
        if event.type == events.ACCOUNT_FOLLOWED and p.get("follower_id") == me:
            self.following = _with(self.following, int(p["followee_id"]))
        elif event.type == events.ACCOUNT_UNFOLLOWED and p.get("follower_id") == me:
            self.following = _without(self.following, int(p["followee_id"]))
        elif event.type == events.ACCOUNT_MUTED and p.get("muter_id") == me:
            self.muted = _with(self.muted, int(p["muted_id"]))
        elif event.type == events.ACCOUNT_UNMUTED and p.get("muter_id") == me:
            self.muted = _without(self.muted, int(p["muted_id"]))
        elif event.type == events.ACCOUNT_BLOCKED and me in (
            p.get("blocker_id"),
            p.get("blocked_id"),
        ):
            other = int(p["blocked_id"] if p["blocker_id"] == me else p["blocker_id"])
            self.blocked = _with(self.blocked, other)
            self.following = _without(self.following, other)
        elif event.type == events.ACCOUNT_UNBLOCKED and me in (
            p.get("blocker_id"),
            p.get("blocked_id"),
        ):
            # Another block may still stand the other way; the visibility check on each
            # delivered post has the last word.
            other = int(p["blocked_id"] if p["blocker_id"] == me else p["blocker_id"])
            self.blocked = _without(self.blocked, other)

    def home(self, event: LiveEvent) -> bool:
        author = event.payload.get("author_id")
        return (
            event.type == events.POST_CREATED
            and (author == self.viewer_id or author in self.following)
            and not self.hides(author)
        )

    def home_authors(self) -> Keys | None:
        """Whose posts `home` may take, for catch-up's SQL: the viewer and its followees."""
        if self.viewer_id is None or len(self.following) >= KEYS_IN_SQL:
            return None
        return "author_id", {self.viewer_id, *self.following}

    def public(self, event: LiveEvent) -> bool:
        p = event.payload
        return (
            event.type == events.POST_CREATED
            and p.get("visibility") == PUBLIC
            and p.get("reply_to_id") is None
            and not self.hides(p.get("author_id"))
        )


def post_changes(post_id: int) -> PostChanges:
    """What a `postUpdated` stream of `post_id` takes: its edits, likes, replies, deletion."""
    return PostChanges(post_id)


class PostChanges:
    """The changes to one post a `postUpdated` stream takes (a small object, not a closure)."""

    __slots__ = ("post_id",)

    def __init__(self, post_id: int) -> None:
        self.post_id = post_id

    def __call__(self, event: LiveEvent) -> bool:
        return event.type in POST_CHANGE_TYPES and event.payload.get("post_id") == self.post_id

    def keys(self) -> Keys:
        """This post's id, for catch-up's SQL."""
        return "post_id", frozenset({self.post_id})


def revokes(account_id: int | None, session_id: int | None) -> Callable[[LiveEvent], bool]:
    """Whether an event ends the authority a subscriber's stream runs with: its session
    ended, or anything else about its account's credentials changed (a role, the second
    factor, a suspension, and any kind added later). Without a session, never."""
    if session_id is None:
        return _never
    return _Revokes(account_id, session_id)


def _never(event: LiveEvent) -> bool:
    return False


class _Revokes:
    """`revokes` for one session: a small object, not a closure (one per subscriber)."""

    __slots__ = ("account_id", "session_id")

    def __init__(self, account_id: int | None, session_id: int) -> None:
        self.account_id = account_id
        self.session_id = session_id

    def __call__(self, event: LiveEvent) -> bool:
        return (
            event.type in REVOKING_TYPES
            and event.payload.get("account_id") == self.account_id
            and (
                _kind(event) != events.CredentialChange.SESSION
                or self.session_id in event.payload.get("session_ids", [])
            )
        )


def _kind(event: LiveEvent) -> str:
    if event.type == events.SESSIONS_REVOKED:
        return events.CredentialChange.SESSION
    return str(event.payload.get("kind", ""))


def closing(event: LiveEvent) -> StreamClosed:
    """How a stream that `revokes` the event closes."""
    if _kind(event) == events.CredentialChange.SESSION:
        return StreamClosed(CLOSE_SESSION_REVOKED, SESSION_REVOKED)
    return StreamClosed(CLOSE_CREDENTIALS_CHANGED, CREDENTIALS_CHANGED)


async def _check(
    revoked: Callable[[LiveEvent], bool],
    unchanged: Callable[[], Awaitable[bool]] | None,
    event: LiveEvent,
) -> None:
    """Close the stream on an event that `revokes` it. An ended session closes it outright;
    for any other change, `unchanged` may first say that the stream's authority is still
    what it started with: the change was already in force when the stream started (its
    event was on its way, or is replayed on resuming), so closing would only repeat."""
    if not revoked(event):
        return
    session_ended = _kind(event) == events.CredentialChange.SESSION
    if not session_ended and unchanged is not None and await _recheck(unchanged):
        return
    raise closing(event)


async def _recheck(unchanged: Callable[[], Awaitable[bool]]) -> bool:
    """`unchanged()`, tried again while the database does not answer. The stream waits here,
    so no later event goes out before the answer; with none, it closes (1011, or 1013 when
    the pool ran dry) and the client resumes from its last cursor once the database is back.
    Any other failure propagates (a fault, masked as an internal error)."""
    for delay in (*RECHECK_DELAYS, None):
        try:
            return await unchanged()
        except Exception as exc:
            if not (unavailable(exc) or overloaded(exc)):
                raise
            if delay is None:
                if overloaded(exc):
                    raise StreamClosed(CLOSE_OVERLOADED, OVERLOADED) from exc
                raise StreamClosed(CLOSE_RECHECK_FAILED, RECHECK_FAILED) from exc
            log.warning("authority re-check failed (%r); retrying in %s s", exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # the last attempt returns or raises


async def stream(
    *,
    hub: Hub,
    log_reader: EventLog,
    accepts: Callable[[LiveEvent], bool],
    types: AbstractSet[str],
    keys: Callable[[], Keys | None] | None = None,
    revoked: Callable[[LiveEvent], bool],
    unchanged: Callable[[], Awaitable[bool]] | None = None,
    observe: Callable[[LiveEvent], None] | None = None,
    after: int | None,
    window: timedelta,
    max_events: int,
) -> AsyncGenerator[LiveEvent, None]:
    """Yield the events `accepts` wants (all of them of `types`, and with `keys`, of the
    payload values it names): first those after `after` from the log, then live.

    Resuming is bounded by time, not by the platform's traffic: a cursor whose event was
    recorded more than `window` ago is `CursorTooOld` (unless nothing came after it), and
    within the window catch-up reads only the events of `types` and those that may revoke
    the stream, however many others happened. At most `max_events` are sent in catch-up;
    one more due is `CursorTooOld` too."""

    # The graph sees every event first; the listener queues those `revoked` or `accepts`
    # wants.
    listener = hub.listen(accepts, revoked=revoked, observe=observe)
    last = hub.last_seq if after is None else after
    try:
        if after is not None:
            end, recorded = await log_reader.resume_point(after)
            if after > end:
                raise CursorAhead()
            if after < end and (recorded is None or recorded < utcnow() - window):
                raise CursorTooOld()
            sent = 0
            while True:
                # Every event left out is one `accepts` and `revoked` refuse, so skipping
                # it here is what the loop below would do with it. `keys` is read for each
                # batch: the graph follows the live events meanwhile. Catch-up ends
                # at the log's end as read now; anything later reaches the listener, which
                # was registered first.
                batch = await log_reader.of_types(
                    last,
                    types=types,
                    key=None if keys is None else keys(),
                    also=REVOKING_TYPES,
                    limit=CATCH_UP_BATCH,
                )
                for event in batch:
                    last = event.seq
                    # Not `observe`: the graph was loaded now, so replaying old social
                    # events into it would undo newer ones the hub has applied meanwhile.
                    await _check(revoked, unchanged, event)
                    if accepts(event):
                        if sent == max_events:
                            raise CursorTooOld()
                        sent += 1
                        yield event
                if len(batch) < CATCH_UP_BATCH:
                    break
        keys = None  # an idle subscriber's frame keeps no more than it needs
        while True:
            # The listener's future is awaited here, not through a coroutine of its own: an
            # idle subscriber's task holds one frame fewer.
            while not listener.ready():
                await listener.wait()
            queued = listener.pop()
            if queued is None:
                raise StreamClosed(CLOSE_SLOW_CONSUMER, "Slow consumer: event queue overflowed")
            if queued.seq <= last:
                continue
            last = queued.seq
            await _check(revoked, unchanged, queued)
            if not revoked(queued):
                yield queued
    finally:
        hub.forget(listener)
