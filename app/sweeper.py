"""Periodic housekeeping in every server and worker process: lifting suspensions whose end
has passed (recording each lift and its audit entry). Read-time checks already ignore an
expired suspension; the sweep makes the record say so. Safe in several processes at once:
rows another sweep holds are skipped."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.audit.actions import Actor
from models.base import utcnow
from models.moderation import expiry
from subscriptions.waiting import wait_event

log = logging.getLogger("chirp.sweeper")

SWEEPER = Actor.system("moderation-sweep")


class Sweeper:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        read_sessionmaker: async_sessionmaker[AsyncSession],
        *,
        interval: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._read_sessionmaker = read_sessionmaker
        self._interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="chirp-sweeper")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        done, _ = await asyncio.wait({self._task}, timeout=10.0)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run_forever(self) -> None:
        while not await wait_event(self._stop, self._interval):
            try:
                await self.run_once()
            except Exception:
                log.exception("sweep failed; the next one retries")

    async def run_once(self) -> int:
        """Lift what is due; returns how many suspensions were lifted. Looks first through a
        read session, so an idle sweep never takes the writer's lock."""
        now = utcnow()
        async with self._read_sessionmaker() as session:
            if not await expiry.any_expired_suspension(session, now=now):
                return 0
        async with self._sessionmaker() as session, session.begin():
            lifted = await expiry.lift_expired_suspensions(session, now=now, actor=SWEEPER)
        if lifted:
            log.info("lifted %d expired suspension(s)", lifted)
        return lifted
