"""Resuming a live stream (`subscriptions.live.stream`) from a cursor, on the real event log:
the window is time, not the platform's traffic; catch-up is in `seq` order with none lost
or repeated and hands over to live events without a gap; authority events are seen even
though catch-up reads only what the stream can deliver; an authority re-check the database
cannot answer holds the stream's events and closes it with a retryable code.

The log is filled directly (a bulk insert of numbered events), as the dispatcher leaves it;
the hub is not started: the test hands it events as its pub/sub listener would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from models.base import utcnow
from models.events import actions as events
from models.events.tables import Event
from models.posts.tables import PUBLIC
from subscriptions import live
from subscriptions.events import EventLog, LiveEvent
from subscriptions.hub import Hub

VIEWER, FOLLOWEE, STRANGER = 1, 2, 3
SESSION = 7
WINDOW = timedelta(minutes=10)
# Platform events while the client was away: 5 minutes at 50 a second, and more.
UNRELATED = 15_600


class Log:
    """The event log under test: numbered events written in bulk, read by `EventLog`."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.reader = EventLog(sessionmaker)
        self.rows: list[dict[str, Any]] = []
        self.last = self.written = 0

    def add(self, type: str, payload: dict[str, Any], *, at: datetime | None = None) -> LiveEvent:
        self.last += 1
        self.rows.append(
            {"type": type, "payload": payload, "seq": self.last, "created_at": at or utcnow()}
        )
        return LiveEvent(seq=self.last, type=type, payload=payload)

    def post(self, author: int, post_id: int, *, at: datetime | None = None) -> LiveEvent:
        payload = {"post_id": post_id, "author_id": author, "visibility": PUBLIC}
        return self.add(events.POST_CREATED, payload | {"reply_to_id": None}, at=at)

    async def write(self) -> None:
        async with self.sessionmaker() as session:
            end = await session.scalar(select(func.max(Event.seq)))
            # The domain database starts each test with an empty log.
            assert (end or 0) == self.written
            await session.execute(insert(Event), self.rows)
            await session.commit()
        self.rows, self.written = [], self.last


@pytest.fixture
def log(db_sessionmaker: async_sessionmaker[AsyncSession]) -> Log:
    return Log(db_sessionmaker)


def hub_at(log: Log) -> Hub:
    """A hub that has delivered the whole log, as a started one would have."""
    hub = Hub(None, "events", log.reader, queue_size=256)  # type: ignore[arg-type]
    hub.last_seq = log.last
    return hub


def home(
    hub: Hub,
    log: Log,
    *,
    after: int,
    revoked: Callable[[LiveEvent], bool] | None = None,
    unchanged: Callable[[], Awaitable[bool]] | None = None,
    max_events: int = 1000,
) -> AsyncGenerator[LiveEvent, None]:
    graph = live.ViewerGraph(VIEWER, following={FOLLOWEE})
    return live.stream(
        hub=hub,
        log_reader=log.reader,
        accepts=graph.home,
        types=live.TIMELINE_TYPES,
        keys=graph.home_authors,
        revoked=revoked or live.revokes(VIEWER, SESSION),
        unchanged=unchanged,
        observe=graph.observe,
        after=after,
        window=WINDOW,
        max_events=max_events,
    )


def unrelated(
    log: Log, count: int, *, since: datetime, followee_posts_after: Collection[int] = ()
) -> list[LiveEvent]:
    """`count` events this viewer's home timeline has nothing to do with, of every kind:
    strangers' posts, their likes and follows, other accounts' credential changes; with a
    post of the followee after each of the `followee_posts_after`-th (returned)."""
    step = (utcnow() - since) / count
    followee_posts = []
    for n in range(count):
        at = since + step * n
        kind = n % 4
        if kind == 0:
            log.post(STRANGER, 100_000 + n, at=at)
        elif kind == 1:
            log.add(events.POST_UPDATED, {"post_id": 100_000 + n}, at=at)
        elif kind == 2:
            log.add(events.ACCOUNT_FOLLOWED, {"follower_id": 40, "followee_id": 41}, at=at)
        else:
            change = {"account_id": 50, "kind": events.CredentialChange.ROLE.value}
            log.add(events.CREDENTIALS_CHANGED, change, at=at)
        if n in followee_posts_after:
            followee_posts.append(log.post(FOLLOWEE, 10 + n))
    return followee_posts


async def test_a_home_timeline_resumes_after_thousands_of_unrelated_events_in_order_once(
    log: Log,
) -> None:
    cursor = log.post(FOLLOWEE, 1, at=utcnow() - timedelta(minutes=6))
    missed = unrelated(
        log,
        UNRELATED,
        since=utcnow() - timedelta(minutes=6),
        followee_posts_after=(10, 7_000, UNRELATED - 1),
    )
    await log.write()
    hub = hub_at(log)
    stream = home(hub, log, after=cursor.seq)

    first = await anext(stream)
    # While catch-up is under way, an event is numbered: it is in the log for catch-up to
    # read, and the hub hands it to the stream's listener too.
    during = log.post(FOLLOWEE, 90_001)
    await log.write()
    hub._deliver(during)
    rest = [await anext(stream) for _ in range(len(missed))]
    later = log.post(FOLLOWEE, 90_002)
    hub._deliver(later)
    hub._deliver(during)  # a republished event
    marker = log.post(FOLLOWEE, 90_003)
    hub._deliver(marker)
    after_hand_over = [await anext(stream) for _ in range(2)]
    await stream.aclose()

    received = [first, *rest, *after_hand_over]
    assert [e.seq for e in received] == [e.seq for e in [*missed, during, later, marker]]
    assert [e.payload["post_id"] for e in received[:3]] == [20, 7_010, 10 + UNRELATED - 1]
    assert hub.listener_count == 0


async def test_a_cursor_older_than_the_window_is_too_old(log: Log) -> None:
    cursor = log.post(FOLLOWEE, 1, at=utcnow() - WINDOW - timedelta(seconds=30))
    log.post(FOLLOWEE, 2)
    await log.write()
    stream = home(hub_at(log), log, after=cursor.seq)

    with pytest.raises(live.CursorTooOld):
        await anext(stream)


async def test_an_old_cursor_with_nothing_after_it_resumes_live(log: Log) -> None:
    cursor = log.post(FOLLOWEE, 1, at=utcnow() - WINDOW * 3)
    await log.write()
    hub = hub_at(log)
    stream = home(hub, log, after=cursor.seq)
    live_post = log.post(FOLLOWEE, 2)

    received = await first_after(stream, hub, [live_post])

    assert received.seq == live_post.seq


async def test_catch_up_sends_at_most_its_bound_then_says_too_old(log: Log) -> None:
    cursor = log.post(FOLLOWEE, 1)
    for n in range(3):
        log.post(FOLLOWEE, 10 + n)
    await log.write()
    stream = home(hub_at(log), log, after=cursor.seq, max_events=2)

    sent = [await anext(stream) for _ in range(2)]
    with pytest.raises(live.CursorTooOld):
        await anext(stream)

    assert [e.payload["post_id"] for e in sent] == [10, 11]


async def test_a_session_revoked_among_skipped_events_closes_catch_up(log: Log) -> None:
    cursor = log.post(FOLLOWEE, 1)
    before = log.post(FOLLOWEE, 2)
    unrelated(log, 2_000, since=utcnow() - timedelta(minutes=1))
    ended = {"account_id": VIEWER, "kind": "session", "session_ids": [SESSION]}
    log.add(events.CREDENTIALS_CHANGED, ended)
    log.post(FOLLOWEE, 3)
    await log.write()
    stream = home(hub_at(log), log, after=cursor.seq)

    delivered = await anext(stream)
    with pytest.raises(live.StreamClosed) as closed:
        await anext(stream)

    assert delivered.seq == before.seq
    assert (closed.value.code, closed.value.reason) == (4403, live.SESSION_REVOKED)


async def test_a_credentials_change_replayed_is_rechecked_and_passed_when_unchanged(
    log: Log,
) -> None:
    cursor = log.post(FOLLOWEE, 1)
    log.add(events.CREDENTIALS_CHANGED, {"account_id": VIEWER, "kind": "role"})
    after_change = log.post(FOLLOWEE, 2)
    await log.write()
    checks: list[bool] = []

    async def unchanged() -> bool:
        checks.append(True)
        return True

    stream = home(hub_at(log), log, after=cursor.seq, unchanged=unchanged)

    assert (await anext(stream)).seq == after_change.seq
    assert len(checks) == 1


@pytest.fixture
def quick_rechecks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "RECHECK_DELAYS", (0.01, 0.01))


class DownDatabase:
    """The authority re-check against a PostgreSQL that does not answer (nothing listens
    on its port): the errors are the driver's own."""

    def __init__(self, *, answers_after: int | None = None) -> None:
        self.engine = create_async_engine("postgresql+asyncpg://chirp@127.0.0.1:1/chirp")
        self.answers_after = answers_after
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        if self.answers_after is not None and self.calls > self.answers_after:
            return True
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        raise AssertionError("nothing listens on port 1")


@pytest.mark.usefixtures("quick_rechecks")
async def test_a_recheck_the_database_cannot_answer_holds_events_and_closes_with_1011(
    log: Log,
) -> None:
    cursor = log.post(FOLLOWEE, 1)
    log.add(events.CREDENTIALS_CHANGED, {"account_id": VIEWER, "kind": "role"})
    log.post(FOLLOWEE, 2)
    await log.write()
    database = DownDatabase()
    stream = home(hub_at(log), log, after=cursor.seq, unchanged=database)

    with pytest.raises(live.StreamClosed) as closed:
        await anext(stream)
    await database.engine.dispose()

    assert (closed.value.code, closed.value.reason) == (1011, live.RECHECK_FAILED)
    assert database.calls == len(live.RECHECK_DELAYS) + 1


@pytest.mark.usefixtures("quick_rechecks")
async def test_a_live_credentials_change_waits_for_the_database_before_later_events(
    log: Log,
) -> None:
    cursor = log.post(FOLLOWEE, 1)
    await log.write()
    hub = hub_at(log)
    database = DownDatabase(answers_after=2)
    stream = home(hub, log, after=cursor.seq, unchanged=database)
    change = log.add(events.CREDENTIALS_CHANGED, {"account_id": VIEWER, "kind": "role"})
    held = log.post(FOLLOWEE, 2)

    received = await first_after(stream, hub, [change, held])
    await database.engine.dispose()

    assert received.seq == held.seq
    assert database.calls == 3  # two failed, the third answered: only then the post went out


@pytest.mark.usefixtures("quick_rechecks")
async def test_a_live_credentials_change_with_the_database_down_never_delivers(
    log: Log,
) -> None:
    cursor = log.post(FOLLOWEE, 1)
    await log.write()
    hub = hub_at(log)
    database = DownDatabase()
    stream = home(hub, log, after=cursor.seq, unchanged=database)
    change = log.add(events.CREDENTIALS_CHANGED, {"account_id": VIEWER, "kind": "role"})

    with pytest.raises(live.StreamClosed) as closed:
        await first_after(stream, hub, [change, log.post(FOLLOWEE, 2)])
    await database.engine.dispose()

    assert closed.value.code == 1011


@pytest.mark.usefixtures("quick_rechecks")
async def test_a_recheck_finding_no_pooled_connection_closes_with_1013(log: Log) -> None:
    cursor = log.post(FOLLOWEE, 1)
    log.add(events.CREDENTIALS_CHANGED, {"account_id": VIEWER, "kind": "role"})
    log.post(FOLLOWEE, 2)
    await log.write()

    async def pool_exhausted() -> bool:
        raise PoolTimeout("QueuePool limit of size 1 overflow 0 reached")

    stream = home(hub_at(log), log, after=cursor.seq, unchanged=pool_exhausted)

    with pytest.raises(live.StreamClosed) as closed:
        await anext(stream)

    assert (closed.value.code, closed.value.reason) == (1013, live.OVERLOADED)


async def first_after(
    stream: AsyncGenerator[LiveEvent, None], hub: Hub, published: list[LiveEvent]
) -> LiveEvent:
    """The stream's first event once the hub has delivered `published` to its listener."""
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # the stream's first step: it listens before reading the log
    assert hub.listener_count == 1
    for event in published:
        hub._deliver(event)
    try:
        return await first
    finally:
        await stream.aclose()


async def test_a_post_updated_stream_catches_up_on_its_post_only(log: Log) -> None:
    cursor = log.add(events.POST_UPDATED, {"post_id": 5})
    unrelated(log, 3_000, since=utcnow() - timedelta(minutes=2))
    edit = log.add(events.POST_UPDATED, {"post_id": 5})
    deletion = log.add(events.POST_DELETED, {"post_id": 5})
    await log.write()
    changes = live.post_changes(5)
    stream = live.stream(
        hub=hub_at(log),
        log_reader=log.reader,
        accepts=changes,
        types=live.POST_CHANGE_TYPES,
        keys=changes.keys,
        revoked=live.revokes(None, None),
        after=cursor.seq,
        window=WINDOW,
        max_events=1000,
    )

    received = [await anext(stream) for _ in range(2)]

    assert [e.seq for e in received] == [edit.seq, deletion.seq]


async def test_the_log_reads_only_the_types_and_keys_asked_for(log: Log) -> None:
    mine = log.post(FOLLOWEE, 1)
    log.post(STRANGER, 2)
    # Another type's field of the same name that is no number: never cast.
    log.add(events.POST_REPORTED, {"author_id": "not a number", "post_id": "x"})
    edit = log.add(events.POST_UPDATED, {"post_id": 1})
    log.add(events.POST_UPDATED, {"post_id": 2})
    change = log.add(events.CREDENTIALS_CHANGED, {"account_id": 50, "kind": "role"})
    await log.write()

    home = await log.reader.of_types(
        0,
        types=live.TIMELINE_TYPES,
        key=("author_id", {VIEWER, FOLLOWEE}),
        also=live.REVOKING_TYPES,
        limit=10,
    )
    post = await log.reader.of_types(
        0, types=live.POST_CHANGE_TYPES, key=("post_id", frozenset({1})), limit=10
    )
    by_type = await log.reader.of_types(mine.seq, types=live.TIMELINE_TYPES, limit=10)

    assert [e.seq for e in home] == [mine.seq, change.seq]
    assert [e.seq for e in post] == [edit.seq]
    assert [e.payload["author_id"] for e in by_type] == [STRANGER]
