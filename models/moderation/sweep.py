"""The suspension sweep: lift suspensions whose end has passed, recording each lift and its
audit entry. Read-time checks already ignore an expired suspension; the sweep makes the
record say so. It looks through a read session first, so an idle sweep never takes the
writer's lock, and is safe in several processes at once."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.audit.actions import Actor
from models.base import utcnow
from models.moderation import expiry
from models.transactions import Transactions

log = logging.getLogger("chirp.sweeper")

SUSPENSION_SWEEPER = Actor.system("moderation-sweep")


class SuspensionSweep:
    """Lifts the suspensions that have run out."""

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
