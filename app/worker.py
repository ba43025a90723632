"""Consuming taskiq's broker inside a process.

taskiq's own `Receiver.listen` cannot stop while the Redis stream is idle: on shutdown it
waits, shielded, for one more message. So this loop fetches messages itself, hands each to
taskiq's `Receiver.callback` (which runs the task and acknowledges it), and on stop cancels
only the idle fetch, then lets the jobs in hand finish. An unacknowledged message is
redelivered by the Redis stream's idle claim, so nothing is lost. A dropped connection
restarts the loop with backoff and re-declares the consumer group a restarted Redis lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from taskiq import AsyncBroker
from taskiq.receiver import Receiver

from subscriptions.waiting import wait_event

log = logging.getLogger("chirp.worker")

MAX_BACKOFF = 10.0


class Worker:
    def __init__(self, broker: AsyncBroker, *, concurrency: int = 20) -> None:
        self._broker = broker
        self._finish = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1)
        self._receiver = Receiver(broker=broker, executor=self._executor, run_startup=False)
        self._slots = asyncio.Semaphore(concurrency)
        self._jobs: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self.restarts = 0

    def start(self) -> None:
        self._broker.is_worker_process = True
        self._task = asyncio.create_task(self._run(), name="chirp-worker")

    async def _run(self) -> None:
        backoff = 0.2
        while not self._finish.is_set():
            try:
                await self._consume()
                backoff = 0.2
            except Exception:
                self.restarts += 1
                log.warning("job consumer stopped; restarting in %.1fs", backoff, exc_info=True)
                await wait_event(self._finish, backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                declare = getattr(self._broker, "_declare_consumer_group", None)
                if declare is not None:
                    with contextlib.suppress(Exception):
                        await declare()

    async def _consume(self) -> None:
        messages = self._broker.listen()
        finished = asyncio.ensure_future(self._finish.wait())
        try:
            while not self._finish.is_set():
                await self._slots.acquire()
                fetch: asyncio.Future[Any] = asyncio.ensure_future(anext(messages))
                await asyncio.wait({fetch, finished}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    self._slots.release()
                    fetch.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await fetch
                    return
                try:
                    message = fetch.result()
                except BaseException:
                    self._slots.release()
                    raise
                job = asyncio.create_task(self._execute(message))
                self._jobs.add(job)
                job.add_done_callback(self._jobs.discard)
        finally:
            finished.cancel()
            with contextlib.suppress(Exception):
                await messages.aclose()

    async def _execute(self, message: Any) -> None:
        try:
            await self._receiver.callback(message)
        finally:
            self._slots.release()

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop fetching, let the jobs in hand finish (cancel them after `grace`)."""
        self._finish.set()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=grace)
        if self._jobs:
            _, late = await asyncio.wait(set(self._jobs), timeout=grace)
            for job in late:
                job.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=False)
