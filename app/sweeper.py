"""Housekeeping steps run by `app.periodic.Periodic` in every server and worker process.

- Suspensions: lift those whose end has passed, recording each lift and its audit entry.
  Read-time checks already ignore an expired suspension; the sweep makes the record say so.
- Webhook deliveries: taskiq has no delayed jobs on our brokers, so a retry is a row in
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

- Billing: renew subscriptions whose period is over, collect open invoices nobody is
  collecting, expire subscriptions whose first invoice stayed unpaid, and make the dunning
  retries that are due (docs/billing.md); one subscription or invoice that fails is logged
  and counted, never holding up the rest. `chirp billing sweep --now ISO` runs it once.

Each step looks through a read session first, so an idle sweep never takes the writer's
lock, and is safe in several processes at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from taskiq import AsyncBroker

from app.jobs import enqueue_attempts
from models.audit.actions import Actor
from models.base import utcnow
from models.billing import dunning, incomplete, renewals
from models.billing.setup import BillingSetup
from models.billing.sweep_tally import Tally
from models.integrations import deliveries
from models.integrations.retry import RetryPolicy
from models.moderation import expiry
from models.transactions import Transactions

log = logging.getLogger("chirp.sweeper")

SUSPENSION_SWEEPER = Actor.system("moderation-sweep")
ENQUEUE_TIMEOUT = 5.0
FANOUT_GRACE = timedelta(seconds=30)
FANOUT_LOOKBACK = timedelta(hours=6)
FANOUT_LOOKBACK_EVENTS = 100_000


class SuspensionSweep:
    def __init__(
        self,
        transactions: Transactions,
        read_sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        self._transactions = transactions
        self._read_sessionmaker = read_sessionmaker

    async def run_once(self) -> int:
        """Lift what is due; returns how many suspensions were lifted."""
        now = utcnow()
        async with self._read_sessionmaker() as session:
            if not await expiry.any_expired_suspension(session, now=now):
                return 0
        async with self._transactions.begin() as session:
            lifted = await expiry.lift_expired_suspensions(
                session, now=now, actor=SUSPENSION_SWEEPER
            )
        if lifted:
            log.info("lifted %d expired suspension(s)", lifted)
        return lifted


class DeliverySweep:
    def __init__(
        self,
        transactions: Transactions,
        read_sessionmaker: async_sessionmaker[AsyncSession],
        broker: AsyncBroker,
        policy: RetryPolicy,
    ) -> None:
        self._transactions = transactions
        self._read_sessionmaker = read_sessionmaker
        self._broker = broker
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
            await enqueue_attempts(self._broker, due)
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
                await enqueue_attempts(self._broker, due)
            enqueued += len(due)
        self._fanned_through = max(self._fanned_through, scan.settled_through)
        return enqueued


@dataclass(frozen=True)
class BillingSweepReport:
    expired: int = 0
    renewed: int = 0
    collected: int = 0
    dunning: int = 0
    # Subscriptions or invoices that raised (logged with their ids; the next sweep retries).
    failed: int = 0

    @property
    def total(self) -> int:
        return self.expired + self.renewed + self.collected + self.dunning


class BillingSweep:
    def __init__(
        self,
        transactions: Transactions,
        read_sessionmaker: async_sessionmaker[AsyncSession],
        setup: BillingSetup,
    ) -> None:
        self._transactions = transactions
        self._read_sessionmaker = read_sessionmaker
        self._setup = setup

    async def run_once(self) -> int:
        """Do what billing has due now; returns how many subscriptions or invoices moved."""
        return (await self.sweep(now=utcnow())).total

    async def sweep(self, *, now: datetime) -> BillingSweepReport:
        """Everything due at `now` (operators and tests pass another time). Each subscription
        and invoice is handled on its own: one that fails is logged and counted in `failed`,
        and neither the others nor the later steps wait for it."""
        async with self._read_sessionmaker() as session:
            if not (
                await renewals.due(session, now=now)
                or await incomplete.due(session, now=now)
                or await dunning.due(session, now=now)
            ):
                return BillingSweepReport()
        transactions, setup = self._transactions, self._setup
        steps: dict[str, Callable[[], Awaitable[Tally]]] = {
            "expired": lambda: incomplete.expire_incomplete(transactions, setup, now=now),
            "renewed": lambda: renewals.renew_due(transactions, setup, now=now),
            "collected": lambda: renewals.collect_uncollected(transactions, setup, now=now),
            "dunning": lambda: dunning.retry_due(transactions, setup, now=now),
        }
        done: dict[str, int] = {}
        failed = 0
        for name, step in steps.items():
            tally = Tally()
            with tally.isolated(f"the {name} step"):
                tally = await step()
            done[name] = tally.done
            failed += tally.failed
        report = BillingSweepReport(**done, failed=failed)
        if report.failed:
            log.warning("billing sweep: %s", report)
        elif report.total:
            log.info("billing sweep: %s", report)
        return report
