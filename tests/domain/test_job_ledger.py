"""The job ledger (models/events/jobs.py) on a real session: a job is run until it has
succeeded once, whatever the queue loses or a worker's death leaves half done; failures back
off and end parked for an operator, never dropped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.events import jobs as ledger
from models.events.tables import QueuedJob
from models.transactions import Transactions

POLICY = ledger.JobPolicy(lease=30.0, retry_base=5.0, retry_max=60.0, max_attempts=3)


async def _recorded(session: AsyncSession, count: int = 1) -> list[ledger.Ticket]:
    calls = [(n + 1, f"req-{n}", "chirp.fan_out_post", {"post_id": n}) for n in range(count)]
    return await ledger.record(session, calls, policy=POLICY)


async def _row(session: AsyncSession, ticket: ledger.Ticket) -> QueuedJob:
    row = await session.scalar(
        select(QueuedJob).where(QueuedJob.id == ticket.id).execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def test_a_job_runs_once_and_a_duplicate_message_is_skipped(
    db_session: AsyncSession,
) -> None:
    [ticket] = await _recorded(db_session)
    assert (ticket.name, dict(ticket.kwargs), ticket.request_id) == (
        "chirp.fan_out_post",
        {"post_id": 0},
        "req-0",
    )

    first = await ledger.start(db_session, ticket.id, policy=POLICY)
    held = await ledger.start(db_session, ticket.id, policy=POLICY)
    await ledger.finish(db_session, ticket.id)
    duplicate = await ledger.start(db_session, ticket.id, policy=POLICY)

    assert first == ledger.Started(attempt=1)
    assert held is None  # another run holds it
    assert duplicate is None  # done: the late duplicate does nothing
    row = await _row(db_session, ticket)
    assert row.done_at is not None and row.attempts == 1 and row.running_until is None


async def test_a_job_the_queue_lost_is_claimed_again_after_its_lease(
    db_session: AsyncSession,
) -> None:
    now = utcnow()
    [ticket] = await ledger.record(db_session, [(7, None, "chirp.x", {})], policy=POLICY, now=now)

    too_soon = await ledger.claim_due(db_session, policy=POLICY, limit=10, now=now)
    later = now + timedelta(seconds=POLICY.lease + 1)
    claimed = await ledger.claim_due(db_session, policy=POLICY, limit=10, now=later)
    again = await ledger.claim_due(db_session, policy=POLICY, limit=10, now=later)

    assert too_soon == []
    assert [t.id for t in claimed] == [ticket.id]
    assert again == []  # the claim leased it for one more lease


async def test_a_dead_workers_job_is_taken_again_once_its_run_lease_is_over(
    db_session: AsyncSession,
) -> None:
    now = utcnow()
    [ticket] = await _recorded(db_session)
    assert await ledger.start(db_session, ticket.id, policy=POLICY, now=now) is not None
    # The worker died mid-run: nothing finished or failed the job.
    expired = now + timedelta(seconds=POLICY.lease + 1)

    while_held = await ledger.claim_due(db_session, policy=POLICY, limit=10, now=now)
    claimed = await ledger.claim_due(db_session, policy=POLICY, limit=10, now=expired)
    second = await ledger.start(db_session, ticket.id, policy=POLICY, now=expired)

    assert while_held == []
    assert [t.id for t in claimed] == [ticket.id]
    assert second == ledger.Started(attempt=2)


async def test_failures_back_off_then_park_and_an_operator_retries(
    db_session: AsyncSession,
) -> None:
    [ticket] = await _recorded(db_session)
    now = utcnow()
    waits = []
    for attempt in range(1, POLICY.max_attempts + 1):
        started = await ledger.start(db_session, ticket.id, policy=POLICY, now=now)
        assert started == ledger.Started(attempt=attempt)
        parked = await ledger.fail(
            db_session, ticket.id, attempt=attempt, error="boom", policy=POLICY, now=now
        )
        row = await _row(db_session, ticket)
        if not parked:
            waits.append((row.due_at - now).total_seconds())
            assert await ledger.claim_due(db_session, policy=POLICY, limit=10, now=now) == []
            now = row.due_at
    row = await _row(db_session, ticket)
    assert parked and row.parked_at is not None and row.last_error == "boom"
    assert 5.0 <= waits[0] <= 5.5 and 10.0 <= waits[1] <= 11.0  # doubling, with jitter
    far = now + timedelta(days=1)
    assert await ledger.claim_due(db_session, policy=POLICY, limit=10, now=far) == []
    assert [job.id for job in await ledger.parked(db_session)] == [ticket.id]

    assert await ledger.retry(db_session, [ticket.id], now=far) == 1
    [back] = await ledger.claim_due(db_session, policy=POLICY, limit=10, now=far)
    assert back.id == ticket.id
    assert await ledger.start(db_session, ticket.id, policy=POLICY, now=far) == ledger.Started(1)


def test_the_backoff_doubles_and_is_capped() -> None:
    policy = ledger.JobPolicy(retry_base=5.0, retry_max=60.0)
    waits = [policy.backoff(attempt) for attempt in range(1, 8)]
    for wait, base in zip(waits[:3], (5.0, 10.0, 20.0), strict=True):
        assert base <= wait <= base * 1.1
    assert all(60.0 <= w <= 66.0 for w in waits[4:])


async def test_jobs_whose_runs_never_finish_are_parked(db_session: AsyncSession) -> None:
    """A job that kills its worker never records a failure: the sweep parks it once it has
    been started `max_attempts` times."""
    [ticket, other] = await _recorded(db_session, 2)
    now = utcnow()
    for _ in range(POLICY.max_attempts):
        assert await ledger.start(db_session, ticket.id, policy=POLICY, now=now) is not None
        now += timedelta(seconds=POLICY.lease + 1)

    parked = await ledger.park_exhausted(db_session, policy=POLICY, now=now)

    assert parked == [(ticket.id, "chirp.fan_out_post")]
    row = await _row(db_session, ticket)
    assert row.parked_at is not None and row.last_error == "the run never finished"
    assert (await _row(db_session, other)).parked_at is None


async def test_run_marks_done_records_failures_and_skips_what_is_done(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    transactions = Transactions(db_sessionmaker)
    async with db_sessionmaker() as session, session.begin():
        ok, failing = await _recorded(session, 2)
    calls: list[str] = []

    async def work() -> str:
        calls.append("ran")
        return "result"

    async def broken() -> None:
        raise RuntimeError("the relay is down")

    result = await ledger.run(transactions, ok.id, ok.name, work, policy=POLICY)
    skipped = await ledger.run(transactions, ok.id, ok.name, work, policy=POLICY)
    with pytest.raises(RuntimeError):
        await ledger.run(transactions, failing.id, failing.name, broken, policy=POLICY)

    assert (result, skipped, calls) == ("result", None, ["ran"])
    async with db_sessionmaker() as session:
        assert (await _row(session, ok)).done_at is not None
        row = await _row(session, failing)
        # Held until its backoff ends: a duplicate message meanwhile cannot run it early.
        assert row.done_at is None and row.running_until == row.due_at and row.attempts == 1
        assert row.last_error == "RuntimeError: the relay is down"
        assert row.due_at > utcnow()


async def test_jobs_that_could_not_be_enqueued_are_due_at_the_next_sweep(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessionmaker() as session, session.begin():
        tickets = await _recorded(session, 3)
    sent: list[int] = []

    async def enqueue(ticket: ledger.Ticket) -> None:
        if len(sent) == 1:
            raise ConnectionError("redis is down")
        sent.append(ticket.id)

    count = await ledger.enqueue_all(db_sessionmaker, tickets, enqueue, timeout=1.0)

    assert count == 1 and sent == [tickets[0].id]
    async with db_sessionmaker() as session:
        claimed = await ledger.claim_due(session, policy=POLICY, limit=10)
    assert [t.id for t in claimed] == [t.id for t in tickets[1:]]


async def test_counts_and_pruning(db_session: AsyncSession) -> None:
    now = utcnow()
    old, recent, pending = await _recorded(db_session, 3)
    await ledger.finish(db_session, old.id, now=now - timedelta(days=8))
    await ledger.finish(db_session, recent.id, now=now - timedelta(days=1))

    counts = await ledger.counts(db_session, cap=100, now=now + timedelta(seconds=10))
    pruned = await ledger.prune_done(db_session, older_than=timedelta(days=7), limit=10)
    left = set(await db_session.scalars(select(QueuedJob.id)))

    assert counts.pending == 1 and counts.parked == 0
    assert 9.0 <= counts.oldest_pending_seconds <= 60.0
    assert pruned == 1
    assert {recent.id, pending.id} <= left and old.id not in left


async def test_a_duplicate_during_a_backoff_is_skipped_and_a_stale_run_changes_nothing(
    db_session: AsyncSession,
) -> None:
    [ticket] = await _recorded(db_session)
    now = utcnow()
    first = await ledger.start(db_session, ticket.id, policy=POLICY, now=now)
    assert first == ledger.Started(1)
    await ledger.fail(db_session, ticket.id, attempt=1, error="boom", policy=POLICY, now=now)
    early = await ledger.start(db_session, ticket.id, policy=POLICY, now=now)
    later = (await _row(db_session, ticket)).due_at
    second = await ledger.start(db_session, ticket.id, policy=POLICY, now=later)
    held_until = (await _row(db_session, ticket)).running_until
    # The first run, long gone, reports a failure late: the second run's hold stands.
    stale = await ledger.fail(
        db_session, ticket.id, attempt=1, error="late", policy=POLICY, now=later
    )
    row = await _row(db_session, ticket)

    assert early is None
    assert second == ledger.Started(2)
    assert stale is False and row.running_until == held_until and row.last_error == "boom"


async def test_each_re_enqueue_of_a_job_waits_twice_as_long(db_session: AsyncSession) -> None:
    """A job still waiting in a backlogged queue is not enqueued again every lease."""
    now = utcnow()
    [ticket] = await ledger.record(db_session, [(1, None, "chirp.x", {})], policy=POLICY, now=now)
    waits = []
    at = now + timedelta(seconds=POLICY.lease)
    for _ in range(3):
        [claimed] = await ledger.claim_due(db_session, policy=POLICY, limit=10, now=at)
        assert claimed.id == ticket.id
        due = (await _row(db_session, ticket)).due_at
        waits.append((due - at).total_seconds())
        at = due

    assert waits == [POLICY.lease, 2 * POLICY.lease, 4 * POLICY.lease]
