"""The expiry sweep: delete idempotency keys past their retention (IDEMPOTENCY_KEY_RETENTION
_HOURS). An expired key is already ignored when a request looks it up; the sweep keeps the
table small. Safe in several processes at once: each deletes what it finds."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.idempotency import actions
from models.transactions import Transactions
from telemetry import metrics

log = logging.getLogger("chirp.sweeper")


class ExpiredKeysSweep:
    """Deletes expired idempotency keys, a batch per transaction."""

    def __init__(
        self,
        transactions: Transactions,
        read_sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        self._transactions = transactions
        self._read_sessionmaker = read_sessionmaker

    async def run_once(self) -> int:
        """Delete what has expired; returns how many keys were deleted."""
        now = utcnow()
        async with self._read_sessionmaker() as session:
            if not await actions.any_expired_key(session, now=now):
                return 0
        deleted = 0
        while True:
            async with self._transactions.begin() as session:
                batch = await actions.delete_expired_keys(session, now=now)
            deleted += batch
            metrics.IDEMPOTENCY_KEYS_EXPIRED.inc(batch)
            if batch < actions.SWEEP_BATCH:
                break
        if deleted:
            log.info("deleted %d expired idempotency key(s)", deleted)
        return deleted
