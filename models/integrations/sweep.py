"""The webhook delivery sweep, run by `app.periodic.Periodic` in every server and worker.

- Due deliveries: taskiq has no delayed jobs on our brokers, so a retry is a row in
  `webhook_deliveries` with `next_attempt_at`; the sweep claims the rows that are due and
  enqueues their attempt jobs. A claim moves `next_attempt_at` one claim lease ahead
  (`RetryPolicy.queue_wait`, 5 minutes: the job may wait that long in a busy queue before
  the sweep enqueues it again); the job, when it starts, takes the attempt (a duplicate
  finds it taken and does nothing) and holds it for the short attempt lease. So two sweeps
  never enqueue the same attempt, and an attempt whose worker died is due again when its
  lease runs out.
- Lost fan-outs: the job that creates an event's deliveries is retried a few times and
  then dropped, and the dispatcher has already marked the event processed. The sweep looks
  for deliverable events processed more than `fanout_grace` ago with no fan-out marker and
  creates their deliveries itself. It looks along the seq index from where everything
  before is settled (kept per process), and never at events older than `FANOUT_LOOKBACK`
  or more than `FANOUT_LOOKBACK_EVENTS` before the newest when the process starts.

Each step looks through a read session first, so an idle sweep never takes the writer's
lock, and is safe in several processes at once."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.integrations import deliveries
from models.integrations.jobs import enqueue_attempts
from models.integrations.retry import RetryPolicy
from models.registry import Enqueue
from models.transactions import Transactions

log = logging.getLogger("chirp.sweeper")

ENQUEUE_TIMEOUT = 5.0
FANOUT_GRACE = timedelta(seconds=30)
FANOUT_LOOKBACK = timedelta(hours=6)
FANOUT_LOOKBACK_EVENTS = 100_000


class DeliverySweep:
    """Enqueues the webhook attempts that are due, and the fan-outs whose job was lost."""

    def __init__(
        self,
        transactions: Transactions,
        read_sessionmaker: async_sessionmaker[AsyncSession],
        enqueue: Enqueue,
        policy: RetryPolicy,
    ) -> None:
        self._transactions = transactions
        self._read_sessionmaker = read_sessionmaker
        self._enqueue = enqueue
        self._policy = policy
        self.fanout_grace = FANOUT_GRACE
        self.fanout_lookback = FANOUT_LOOKBACK
        # Every deliverable event up to this seq is fanned out (None: not looked yet).
        self._fanned_through: int | None = None

    async def run_once(self) -> int:
        """Fan out lost events, then claim what is due and enqueue it; returns how many
        attempts were enqueued. If the queue is down, the claims simply run out and the
        next sweeps try again."""
        try:
            enqueued = await self.recover_fanouts()
        except Exception:  # the claims below must not wait for it
            log.exception("looking for lost webhook fan-outs failed; the next sweep retries")
            enqueued = 0
        async with self._read_sessionmaker() as session:
            if not await deliveries.any_due(session):
                return enqueued
        async with self._transactions.begin() as session:
            due = await deliveries.claim_due(session, lease=self._policy.claim_lease)
        async with asyncio.timeout(ENQUEUE_TIMEOUT):
            await enqueue_attempts(self._enqueue, due)
        return enqueued + len(due)

    async def recover_fanouts(self) -> int:
        """Create the deliveries of deliverable events whose job was lost; returns how many
        first attempts were enqueued."""
        async with self._read_sessionmaker() as session:
            if self._fanned_through is None:
                newest = await deliveries.newest_seq(session)
                self._fanned_through = max(0, newest - FANOUT_LOOKBACK_EVENTS)
            scan = await deliveries.lost_fanouts(
                session,
                after=self._fanned_through,
                grace=self.fanout_grace,
                oldest=utcnow() - self.fanout_lookback,
            )
        enqueued = 0
        for seq in scan.lost:
            async with self._transactions.begin() as session:
                due = await deliveries.create_deliveries(
                    session, event_seq=seq, lease=self._policy.claim_lease
                )
            # Committed: from here the deliveries are durable (a failed enqueue is retried
            # when their claims run out).
            self._fanned_through = seq
            log.warning(
                "created the webhook deliveries of event seq %d, whose job did not (%d)",
                seq,
                len(due),
            )
            async with asyncio.timeout(ENQUEUE_TIMEOUT):
                await enqueue_attempts(self._enqueue, due)
            enqueued += len(due)
        self._fanned_through = max(self._fanned_through, scan.settled_through)
        return enqueued
