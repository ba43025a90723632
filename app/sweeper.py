"""Housekeeping steps run by `app.periodic.Periodic` in every server and worker process.

- Suspensions: lift those whose end has passed, recording each lift and its audit entry.
  Read-time checks already ignore an expired suspension; the sweep makes the record say so.
- Webhook deliveries: taskiq has no delayed jobs on our brokers, so a retry is a row in
  `webhook_deliveries` with `next_attempt_at`; the sweep claims the rows that are due and
  enqueues their attempt jobs. A claim moves `next_attempt_at` one lease ahead, so two
  sweeps never enqueue the same attempt, and an attempt whose worker died is due again
  when its lease runs out.

Each step looks through a read session first, so an idle sweep never takes the writer's
lock, and is safe in several processes at once."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from taskiq import AsyncBroker

from app.jobs import enqueue_attempts
from models.audit.actions import Actor
from models.base import utcnow
from models.integrations import deliveries
from models.integrations.retry import RetryPolicy
from models.moderation import expiry

log = logging.getLogger("chirp.sweeper")

SUSPENSION_SWEEPER = Actor.system("moderation-sweep")
ENQUEUE_TIMEOUT = 5.0


class SuspensionSweep:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        read_sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        self._sessionmaker = sessionmaker
        self._read_sessionmaker = read_sessionmaker

    async def run_once(self) -> int:
        """Lift what is due; returns how many suspensions were lifted."""
        now = utcnow()
        async with self._read_sessionmaker() as session:
            if not await expiry.any_expired_suspension(session, now=now):
                return 0
        async with self._sessionmaker() as session, session.begin():
            lifted = await expiry.lift_expired_suspensions(
                session, now=now, actor=SUSPENSION_SWEEPER
            )
        if lifted:
            log.info("lifted %d expired suspension(s)", lifted)
        return lifted


class DeliverySweep:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        read_sessionmaker: async_sessionmaker[AsyncSession],
        broker: AsyncBroker,
        policy: RetryPolicy,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._read_sessionmaker = read_sessionmaker
        self._broker = broker
        self._policy = policy

    async def run_once(self) -> int:
        """Claim what is due and enqueue it; returns how many attempts were enqueued. If the
        queue is down, the claims simply run out and the next sweeps try again."""
        async with self._read_sessionmaker() as session:
            if not await deliveries.any_due(session):
                return 0
        async with self._sessionmaker() as session, session.begin():
            due = await deliveries.claim_due(session, lease=self._policy.lease)
        async with asyncio.timeout(ENQUEUE_TIMEOUT):
            await enqueue_attempts(self._broker, due)
        return len(due)
