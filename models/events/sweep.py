"""The job sweep: enqueues the ledger's jobs that are due and not done (lost with the queue,
taken by a worker that died, waiting out a retry's backoff), parks those out of attempts and
prunes old done rows. Safe in every process at once: a claim leases its rows."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.events import jobs as ledger
from models.transactions import Transactions
from telemetry import metrics

log = logging.getLogger("chirp.jobs")

CLAIM_BATCH = 500
PRUNE_BATCH = 1_000
PRUNE_EVERY = 60.0
ENQUEUE_TIMEOUT = 5.0


class JobSweep:
    def __init__(
        self,
        transactions: Transactions,
        read_sessionmaker: async_sessionmaker[AsyncSession],
        enqueue: ledger.Enqueue,
        policy: ledger.JobPolicy,
    ) -> None:
        self._transactions = transactions
        self._read_sessionmaker = read_sessionmaker
        self._enqueue = enqueue
        self._policy = policy
        self._next_prune = 0.0

    async def run_once(self) -> int:
        """Park, re-enqueue and prune what is due; returns how many jobs were enqueued. If
        the queue is down, the claimed jobs are due again after one lease."""
        await self._prune()
        async with self._read_sessionmaker() as session:
            if not await ledger.any_due(session):
                return 0
        async with self._transactions.session() as session, session.begin():
            for job_id, name in await ledger.park_exhausted(session, policy=self._policy):
                metrics.JOBS_PARKED.labels(name).inc()
                log.error("job %s (%s) parked: its runs never finished", job_id, name)
            due = await ledger.claim_due(session, policy=self._policy, limit=CLAIM_BATCH)
        enqueued = await ledger.enqueue_all(
            self._transactions.sessionmaker, due, self._enqueue, timeout=ENQUEUE_TIMEOUT
        )
        for ticket in due[:enqueued]:
            metrics.JOBS_REQUEUED.labels(ticket.name).inc()
        return enqueued

    async def _prune(self) -> None:
        """Delete a batch of done rows past the retention, at most once a minute."""
        now = asyncio.get_running_loop().time()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        async with self._transactions.session() as session, session.begin():
            await ledger.prune_done(
                session,
                older_than=timedelta(seconds=self._policy.retention),
                limit=PRUNE_BATCH,
            )
