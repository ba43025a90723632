"""The outbox dispatcher: numbers committed events, publishes them, and hands them to jobs.

Three short steps, each safe to repeat and to run in several processes at once:
1. number: give unnumbered events the next contiguous `seq` (one writer at a time);
2. publish: send numbered, unpublished events through broadcaster, in `seq` order;
3. process: write the background jobs an event calls for to the job ledger in the
   transaction that marks it processed, then enqueue them (`models/events/jobs.py`: a job
   the queue loses is enqueued again by the job sweep; jobs are idempotent).
If Redis is down, step 2 fails and is retried, and step 3's enqueue waits for the sweep;
nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from broadcaster import Broadcast
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.events import jobs as ledger
from models.events.tables import Event
from subscriptions.events import LiveEvent
from subscriptions.waiting import wait_event
from telemetry import metrics

log = logging.getLogger("chirp.dispatcher")

BATCH = 500
HANDLE_TIMEOUT = 5.0
NUMBERING_LOCK = 727_001  # pg_advisory_xact_lock key serialising step 1 across processes

ProcessEvent = Callable[[LiveEvent], Awaitable[None]]


class Jobs(Protocol):
    """The background jobs as the dispatcher hands them over (`app.jobs.JobQueue`)."""

    @property
    def policy(self) -> ledger.JobPolicy: ...

    def jobs_for(self, event: LiveEvent) -> list[tuple[str, dict[str, Any]]]: ...

    async def enqueue(self, ticket: ledger.Ticket) -> None: ...


class Dispatcher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        read_sessionmaker: async_sessionmaker[AsyncSession],
        broadcast: Broadcast,
        channel: str,
        jobs: Jobs,
        *,
        interval: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._read_sessionmaker = read_sessionmaker
        self._broadcast = broadcast
        self._channel = channel
        self._jobs = jobs
        self._interval = interval
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def kick(self) -> None:
        """Ask for a dispatch soon; called after every commit that recorded events."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="chirp-dispatcher")

    async def stop(self, *, grace: float = 10.0) -> None:
        """Finish the dispatch in hand (cancelling a transaction midway can wedge a
        connection), then stop; cancel only if it outlasts `grace`."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run_forever(self) -> None:
        while not self._stopping:
            await wait_event(self._wake, self._interval)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.run_once()
            except Exception:
                log.exception("dispatch failed; the outbox keeps the events for the next try")

    async def run_once(self) -> int:
        """Number, publish and process what is pending; returns how many were published."""
        async with self._lock:
            await self._number()
            published = await self._publish()
            await self._process_pending()
            return published

    async def _number(self) -> None:
        # The sweep runs every interval: look first, and take the writer's lock (SQLite's
        # database lock, PostgreSQL's advisory lock) only when there is numbering to do.
        async with self._read_sessionmaker() as session:
            if await session.scalar(select(Event.id).where(Event.seq.is_(None)).limit(1)) is None:
                return
        async with self._sessionmaker() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": NUMBERING_LOCK}
                )
            ids = list(
                await session.scalars(
                    select(Event.id).where(Event.seq.is_(None)).order_by(Event.id).limit(BATCH)
                )
            )
            if not ids:
                return
            last = int(await session.scalar(select(func.max(Event.seq))) or 0)
            for offset, event_id in enumerate(ids, start=1):
                await session.execute(
                    update(Event).where(Event.id == event_id).values(seq=last + offset)
                )

    async def _pending(self, *, column: str) -> list[tuple[int, datetime, LiveEvent]]:
        async with self._read_sessionmaker() as session:
            rows = await session.scalars(
                select(Event)
                .where(Event.seq.is_not(None), getattr(Event, column).is_(None))
                .order_by(Event.seq)
                .limit(BATCH)
            )
            return [(row.id, row.created_at, LiveEvent.from_row(row)) for row in rows]

    async def _publish(self) -> int:
        async def publish(event: LiveEvent) -> None:
            await self._broadcast.publish(self._channel, event.encode())

        return await self._drain("published_at", publish)

    async def _process_pending(self) -> int:
        """Write the jobs of published-or-not numbered events to the ledger and mark the
        events processed, in one transaction (rows another process holds are skipped on
        PostgreSQL; SQLite has one writer), then enqueue them; returns how many jobs."""
        async with self._read_sessionmaker() as session:
            waiting = select(Event.id).where(Event.seq.is_not(None), Event.processed_at.is_(None))
            if await session.scalar(waiting.limit(1)) is None:
                return 0
        async with self._sessionmaker() as session, session.begin():
            rows = list(
                await session.scalars(
                    select(Event)
                    .where(Event.seq.is_not(None), Event.processed_at.is_(None))
                    .order_by(Event.seq)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            if not rows:
                return 0
            calls = [
                (row.seq, row.request_id, name, kwargs)
                for row in rows
                for name, kwargs in self._jobs.jobs_for(LiveEvent.from_row(row))
            ]
            tickets = await ledger.record(session, calls, policy=self._jobs.policy)
            await session.execute(
                update(Event)
                .where(Event.id.in_([row.id for row in rows]))
                .values(processed_at=utcnow())
            )
        await ledger.enqueue_all(
            self._sessionmaker, tickets, self._jobs.enqueue, timeout=HANDLE_TIMEOUT
        )
        return len(tickets)

    async def _drain(self, column: str, handle: ProcessEvent) -> int:
        """Handle pending events in order, each within HANDLE_TIMEOUT, stopping at the first
        failure; then mark what was handled. No transaction or lock is held across the
        network calls, and both steps tolerate another process doing the same work."""
        done: list[int] = []
        for event_id, created_at, event in await self._pending(column=column):
            try:
                async with asyncio.timeout(HANDLE_TIMEOUT):
                    await handle(event)
            except Exception:
                log.warning("%s stopped at event seq %s; will retry", column, event.seq)
                break
            done.append(event_id)
            if column == "published_at":
                metrics.EVENTS_PUBLISHED.labels(event.type).inc()
                metrics.OUTBOX_PUBLISH_LAG.observe((utcnow() - created_at).total_seconds())
        if done:
            async with self._sessionmaker() as session, session.begin():
                await session.execute(
                    update(Event).where(Event.id.in_(done)).values({column: utcnow()})
                )
        return len(done)
