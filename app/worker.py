"""Running taskiq's receiver inside a process: restart it with backoff when the broker's
connection drops (re-declaring the Redis consumer group, which a restarted Redis has lost),
and stop gracefully: finish the jobs in hand, stop fetching, then return."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from taskiq import AsyncBroker
from taskiq.receiver import Receiver

from subscriptions.waiting import wait_event

log = logging.getLogger("chirp.worker")

MAX_BACKOFF = 10.0


class Worker:
    def __init__(self, broker: AsyncBroker, *, max_async_tasks: int = 50) -> None:
        self._broker = broker
        self._max_async_tasks = max_async_tasks
        self._finish = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1)
        self._task: asyncio.Task[None] | None = None
        self.restarts = 0

    def start(self) -> None:
        self._broker.is_worker_process = True
        self._task = asyncio.create_task(self._run(), name="chirp-worker")

    async def _run(self) -> None:
        backoff = 0.2
        while not self._finish.is_set():
            receiver = Receiver(
                broker=self._broker,
                executor=self._executor,
                run_startup=False,
                max_async_tasks=self._max_async_tasks,
            )
            try:
                await receiver.listen(self._finish)
                backoff = 0.2
            except Exception:
                self.restarts += 1
                log.warning("job receiver stopped; restarting in %.1fs", backoff, exc_info=True)
                await wait_event(self._finish, backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                declare = getattr(self._broker, "_declare_consumer_group", None)
                if declare is not None:
                    with contextlib.suppress(Exception):
                        await declare()

    async def stop(self, *, grace: float = 10.0) -> None:
        self._finish.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=grace)
            if not done:
                log.warning("jobs still running after %.0fs; cancelling them", grace)
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        self._executor.shutdown(wait=False)
