"""A periodic loop for housekeeping that must survive any one process: every server and
worker runs it, each step is safe to run in several processes at once, and a failed step
is simply retried at the next tick. It stops by a flag with a grace period, never by
cancelling a step mid-transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from subscriptions.waiting import wait_event

log = logging.getLogger("chirp.periodic")


class Periodic:
    def __init__(self, name: str, step: Callable[[], Awaitable[int]], *, interval: float) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run_forever(), name=f"chirp-{self.name}")

    async def stop(self, *, grace: float = 10.0) -> None:
        if self._task is None:
            return
        self._stop.set()
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run_forever(self) -> None:
        while not await wait_event(self._stop, self._interval):
            try:
                await self._step()
            except Exception:
                log.exception("%s failed; the next tick retries", self.name)
