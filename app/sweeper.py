"""The webhook sweeper: enqueues delivery attempts that are due.

taskiq has no delayed jobs on our brokers, so a retry is a row in `webhook_deliveries` with
`next_attempt_at`, and this loop (in every process, every WEBHOOK_SWEEP_INTERVAL) claims the
rows that are due and enqueues their attempt jobs. A claim moves `next_attempt_at` one lease
ahead, so two sweepers never enqueue the same attempt, and an attempt whose worker died is
due again when its lease runs out. Like the dispatcher, it looks before it takes a lock."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from taskiq import AsyncBroker

from app.jobs import enqueue_attempts
from models.integrations import deliveries
from models.integrations.retry import RetryPolicy
from subscriptions.waiting import wait_event

log = logging.getLogger("chirp.webhooks")

ENQUEUE_TIMEOUT = 5.0


class DeliverySweeper:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        read_sessionmaker: async_sessionmaker[AsyncSession],
        broker: AsyncBroker,
        policy: RetryPolicy,
        *,
        interval: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._read_sessionmaker = read_sessionmaker
        self._broker = broker
        self._policy = policy
        self._interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="chirp-webhook-sweeper")

    async def stop(self, *, grace: float = 10.0) -> None:
        if self._task is None:
            return
        self._stop.set()
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run_forever(self) -> None:
        while not self._stop.is_set():
            await wait_event(self._stop, self._interval)
            if self._stop.is_set():
                return
            try:
                await self.run_once()
            except Exception:
                log.exception("webhook sweep failed; due deliveries stay due for the next one")

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
