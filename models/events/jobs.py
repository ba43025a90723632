"""The job ledger: every job an event calls for, durably, until it has succeeded.

The queue is the fast path and may lose a job (Redis restarted empty, a worker killed after
taking a message); the ledger does not. Its life:
1. `record`: the dispatcher writes the jobs in the transaction that marks their event
   processed, due `lease` from now, then enqueues them.
2. `start`: a run takes the job for `lease` (`running_until`) and counts the attempt; a job
   already done, parked or held by a live run is skipped, so a duplicate message is harmless.
3. `finish` after the job's own transaction committed, or `fail`: due again after a backoff
   that doubles from `retry_base` up to `retry_max`, holding the job meanwhile (a duplicate
   message cannot run it early); at `max_attempts` starts it is parked. Only the run that
   took the job last may record its failure.
4. `claim_due` (the job sweep): what is due and not held is leased again and re-enqueued:
   a job the queue lost is back `lease` after it was last enqueued, whatever else happens;
   each further re-enqueue of the same job waits twice as long (a backlog is not flooded).
Parked jobs wait for an operator (`chirp jobs parked`, `chirp jobs retry`)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.events.tables import QueuedJob
from models.transactions import Transactions
from telemetry import metrics

log = logging.getLogger("chirp.jobs")

# Longest `last_error` kept (an exception's text can be a page of SQL).
ERROR_CHARS = 2_000


@dataclass(frozen=True)
class JobPolicy:
    """How long a run or an enqueue holds a job, how failures back off, when to park."""

    lease: float = 30.0
    retry_base: float = 5.0
    retry_max: float = 3_600.0
    max_attempts: int = 20
    # How long a done job's row is kept (for `chirp jobs` and incident review).
    retention: float = 7 * 86_400.0

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failed starts: doubling, capped,
        with up to 10% jitter so a burst of failures does not come back as one."""
        wait = min(self.retry_max, self.retry_base * 2.0 ** max(0, attempts - 1))
        return wait * (1 + random.random() / 10)


@dataclass(frozen=True, slots=True)
class Ticket:
    """What the queue carries for a ledger job."""

    id: int
    name: str
    kwargs: Mapping[str, Any]
    request_id: str | None


Enqueue = Callable[[Ticket], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Started:
    """A run that took its job: which attempt this is."""

    attempt: int


async def record(
    session: AsyncSession,
    calls: Iterable[tuple[int | None, str | None, str, Mapping[str, Any]]],
    *,
    policy: JobPolicy,
    now: datetime | None = None,
) -> list[Ticket]:
    """Write one ledger row per (event seq, request id, job name, kwargs), due `lease`
    from now (the enqueue that follows is the fast path; the sweep is the slow one)."""
    now = now or utcnow()
    due = now + timedelta(seconds=policy.lease)
    rows = [
        QueuedJob(
            name=name,
            kwargs=dict(kwargs),
            event_seq=seq,
            request_id=request_id,
            created_at=now,
            due_at=due,
            attempts=0,
            requeues=0,
        )
        for seq, request_id, name, kwargs in calls
    ]
    if not rows:
        return []
    session.add_all(rows)
    await session.flush()
    return [Ticket(row.id, row.name, row.kwargs, row.request_id) for row in rows]


def _free(now: datetime) -> Any:
    return or_(QueuedJob.running_until.is_(None), QueuedJob.running_until <= now)


def _pending() -> Any:
    return and_(QueuedJob.done_at.is_(None), QueuedJob.parked_at.is_(None))


async def start(
    session: AsyncSession, job_id: int, *, policy: JobPolicy, now: datetime | None = None
) -> Started | None:
    """Take the job for one run, or None when it is done, parked or held by another run."""
    now = now or utcnow()
    attempt = await session.scalar(
        update(QueuedJob)
        .where(QueuedJob.id == job_id, _pending(), _free(now))
        .values(
            attempts=QueuedJob.attempts + 1,
            running_until=now + timedelta(seconds=policy.lease),
            due_at=now + timedelta(seconds=policy.lease),
        )
        .returning(QueuedJob.attempts)
    )
    return None if attempt is None else Started(int(attempt))


async def finish(session: AsyncSession, job_id: int, *, now: datetime | None = None) -> None:
    """The run succeeded: the job is done for good."""
    await session.execute(
        update(QueuedJob)
        .where(QueuedJob.id == job_id)
        .values(done_at=now or utcnow(), running_until=None, last_error=None)
    )


async def fail(
    session: AsyncSession,
    job_id: int,
    *,
    attempt: int,
    error: str,
    policy: JobPolicy,
    now: datetime | None = None,
) -> bool:
    """The run failed: due again after the backoff, or parked at `max_attempts`. Returns
    whether it was parked."""
    now = now or utcnow()
    parked = attempt >= policy.max_attempts
    values: dict[str, Any] = {"running_until": None, "last_error": error[:ERROR_CHARS]}
    if parked:
        values["parked_at"] = now
    else:
        # Held until the backoff ends: a duplicate message arriving meanwhile is skipped,
        # not run early.
        values["due_at"] = values["running_until"] = now + timedelta(
            seconds=policy.backoff(attempt)
        )
    # Only the latest run records its failure: a stale run (its lease ran out and another
    # took the job) must not free or park what the newer run holds.
    result = await session.execute(
        update(QueuedJob)
        .where(QueuedJob.id == job_id, QueuedJob.attempts == attempt, _pending())
        .values(values)
    )
    return parked and bool(result.rowcount)  # type: ignore[attr-defined]


async def run(
    transactions: Transactions,
    ticket_id: int,
    name: str,
    work: Callable[[], Awaitable[object]],
    *,
    policy: JobPolicy,
) -> object:
    """Run a ledger job once: take it, do the work (its own transaction), then mark it done
    or record the failure; a job already done, parked or running is skipped (None). The
    ledger's own writes stay out of the work's transaction and do not wake the dispatcher."""
    async with transactions.session() as session, session.begin():
        started = await start(session, ticket_id, policy=policy)
    if started is None:
        metrics.JOBS_SKIPPED.labels(name).inc()
        return None
    try:
        result = await work()
    except Exception as exc:
        async with transactions.session() as session, session.begin():
            parked = await fail(
                session,
                ticket_id,
                attempt=started.attempt,
                error=f"{type(exc).__name__}: {exc}",
                policy=policy,
            )
        if parked:
            metrics.JOBS_PARKED.labels(name).inc()
            log.error("job %s (%s) parked after %d attempts", ticket_id, name, started.attempt)
        raise
    async with transactions.session() as session, session.begin():
        await finish(session, ticket_id)
    return result


async def park_exhausted(
    session: AsyncSession, *, policy: JobPolicy, now: datetime | None = None
) -> list[tuple[int, str]]:
    """Park the jobs whose runs keep dying before they can record a failure (a worker killed
    by the job itself): due, free, and already started `max_attempts` times."""
    now = now or utcnow()
    rows = await session.execute(
        update(QueuedJob)
        .where(
            _pending(),
            _free(now),
            QueuedJob.due_at <= now,
            QueuedJob.attempts >= policy.max_attempts,
        )
        .values(
            parked_at=now,
            running_until=None,
            last_error=func.coalesce(QueuedJob.last_error, "the run never finished"),
        )
        .returning(QueuedJob.id, QueuedJob.name)
    )
    return [(int(job_id), str(name)) for job_id, name in rows]


async def any_due(session: AsyncSession, *, now: datetime | None = None) -> bool:
    """Whether the sweep has anything to do (a cheap read before taking a write lock)."""
    now = now or utcnow()
    found = await session.scalar(
        select(QueuedJob.id).where(_pending(), _free(now), QueuedJob.due_at <= now).limit(1)
    )
    return found is not None


async def claim_due(
    session: AsyncSession, *, policy: JobPolicy, limit: int, now: datetime | None = None
) -> list[Ticket]:
    """Lease the jobs that are due and free for `lease` more seconds, oldest due first, and
    return them to be enqueued (rows another sweep holds are skipped on PostgreSQL)."""
    now = now or utcnow()
    found = (
        await session.execute(
            select(QueuedJob.id, QueuedJob.requeues)
            .where(_pending(), _free(now), QueuedJob.due_at <= now)
            .order_by(QueuedJob.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    # Each re-enqueue of the same job waits twice as long for the next (up to 32 leases): a
    # job still waiting in a backlogged queue gets a few duplicates, not one per lease.
    by_requeues: dict[int, list[int]] = {}
    for job_id, requeues in found:
        by_requeues.setdefault(min(int(requeues), 5), []).append(int(job_id))
    tickets: list[Ticket] = []
    for requeues, ids in by_requeues.items():
        rows = await session.execute(
            update(QueuedJob)
            .where(QueuedJob.id.in_(ids))
            .values(
                due_at=now + timedelta(seconds=policy.lease * 2**requeues),
                requeues=QueuedJob.requeues + 1,
            )
            .returning(QueuedJob.id, QueuedJob.name, QueuedJob.kwargs, QueuedJob.request_id)
        )
        tickets += [Ticket(int(i), str(n), dict(k), r) for i, n, k, r in rows]
    return sorted(tickets, key=lambda ticket: ticket.id)


# A re-enqueue that did not happen (the queue was down) does not count.
_one_fewer = case((QueuedJob.requeues > 0, QueuedJob.requeues - 1), else_=0)


async def release(
    session: AsyncSession, job_ids: Sequence[int], *, now: datetime | None = None
) -> None:
    """Make jobs that could not be enqueued (the queue is down) due again at once, so the
    next sweep tries them instead of waiting out their lease."""
    if job_ids:
        await session.execute(
            update(QueuedJob)
            .where(QueuedJob.id.in_(job_ids), QueuedJob.running_until.is_(None), _pending())
            .values(due_at=now or utcnow(), requeues=_one_fewer)
        )


async def enqueue_all(
    sessionmaker: async_sessionmaker[AsyncSession],
    tickets: Sequence[Ticket],
    enqueue: Enqueue,
    *,
    timeout: float,
) -> int:
    """Enqueue in order, stopping at the first failure (the queue is most likely down) and
    releasing what was not enqueued to the next sweep; returns how many were enqueued."""
    sent = 0
    try:
        for ticket in tickets:
            async with asyncio.timeout(timeout):
                await enqueue(ticket)
            sent += 1
    except Exception as exc:
        log.warning("enqueueing jobs stopped after %d of %d (%s)", sent, len(tickets), exc)
        try:
            async with sessionmaker() as session, session.begin():
                await release(session, [ticket.id for ticket in tickets[sent:]])
        except Exception:
            log.warning("releasing the jobs failed; they are due again after their lease")
    return sent


@dataclass(frozen=True, slots=True)
class LedgerCounts:
    """What the gauges show: jobs not done (and the oldest of them), jobs parked."""

    pending: int
    parked: int
    oldest_pending_seconds: float


async def counts(session: AsyncSession, *, cap: int, now: datetime | None = None) -> LedgerCounts:
    """Counted up to `cap` each (a scrape must stay cheap however long the backlog)."""
    now = now or utcnow()

    async def count(*where: Any) -> int:
        capped = select(QueuedJob.id).where(*where).limit(cap).subquery()
        return int(await session.scalar(select(func.count()).select_from(capped)) or 0)

    pending = await count(_pending())
    parked = await count(QueuedJob.parked_at.is_not(None))
    oldest = await session.scalar(
        select(QueuedJob.created_at).where(_pending()).order_by(QueuedJob.id).limit(1)
    )
    age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    return LedgerCounts(pending, parked, age)


async def parked(session: AsyncSession, *, limit: int = 100) -> Sequence[QueuedJob]:
    """The parked jobs, oldest first."""
    rows = await session.scalars(
        select(QueuedJob)
        .where(QueuedJob.parked_at.is_not(None))
        .order_by(QueuedJob.parked_at, QueuedJob.id)
        .limit(limit)
    )
    return list(rows)


async def retry(
    session: AsyncSession, job_ids: Sequence[int] | None, *, now: datetime | None = None
) -> int:
    """Un-park jobs (all parked ones when `job_ids` is None): due now, attempts from zero."""
    now = now or utcnow()
    stmt = update(QueuedJob).where(QueuedJob.parked_at.is_not(None))
    if job_ids is not None:
        stmt = stmt.where(QueuedJob.id.in_(job_ids))
    result = await session.execute(
        stmt.values(parked_at=None, attempts=0, requeues=0, due_at=now, running_until=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune_done(
    session: AsyncSession, *, older_than: timedelta, limit: int, now: datetime | None = None
) -> int:
    """Delete up to `limit` jobs done before `older_than` ago; returns how many."""
    cutoff = (now or utcnow()) - older_than
    ids = select(QueuedJob.id).where(QueuedJob.done_at < cutoff).limit(limit)
    result = await session.execute(delete(QueuedJob).where(QueuedJob.id.in_(ids.scalar_subquery())))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
