"""Shared reads for live delivery: a live event's post is read once for every subscriber in
this process that asked for it with the same document, however many there are.

Each subscriber's stream asks `LiveReads.answer` for its view of an event. The first asks
open a batch for (document, event); every subscriber woken by the same event joins it before
it runs (the hub wakes them all in one pass, and the batch runs on the loop after them). The
batch then costs two statements (`lean.LiveRead`): the post as it is for everyone, and, for
all the batch's viewers at once, what differs between them (may they see it, do they like it,
follow its author, which nested posts they may see). Viewers whose facts are alike share one
shaped answer, so shaping and encoding happen once per distinct view, not per subscriber."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from models.outages import unavailable
from models.timeline.lean import LiveRead
from models.timeline.reader import Reader
from telemetry import metrics

log = logging.getLogger("chirp.live")

Shape = Callable[[list[Any], int], str]  # a merged row and the event's seq → payload text


# Pauses before reading an event again while the database does not answer: about 15 s.
OUTAGE_RETRIES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def retryable(exc: BaseException | None) -> bool:
    """Whether a failed read is the database not answering (down, restarting, or a
    connection it dropped mid-operation), worth reading again shortly."""
    if exc is None:
        return False
    # asyncpg's own state errors come from a connection the server dropped mid-operation.
    return unavailable(exc) or isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError)


class LiveReadFailed(Exception):
    """The shared read of an event failed (the database is away): the stream closes so that
    its client resumes from its last cursor and loses nothing."""


@dataclass
class _Batch:
    read: LiveRead
    shape: Shape
    post_id: int
    seq: int
    waiting: dict[int | None, list[asyncio.Future[str | None]]] = field(default_factory=dict)


class LiveReads:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._pending: dict[tuple[Hashable, int], _Batch] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def answer(
        self,
        group: Hashable,
        read: LiveRead,
        shape: Shape,
        *,
        seq: int,
        post_id: int,
        viewer_id: int | None,
    ) -> str | None:
        """The event's post shaped for this viewer (`shape` over the merged row), or None
        when the viewer may not see it. `group` names the document: subscribers that share
        it share the batch."""
        key = (group, seq)
        loop = asyncio.get_running_loop()
        batch = self._pending.get(key)
        if batch is None:
            batch = self._pending[key] = _Batch(read, shape, post_id, seq)
            task = loop.create_task(self._run(key, batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        future: asyncio.Future[str | None] = loop.create_future()
        batch.waiting.setdefault(viewer_id, []).append(future)
        return await future

    async def aclose(self, *, grace: float = 2.0) -> None:
        """Let the reads in flight finish (cancel them after `grace`), so none holds a
        database connection when the engine is disposed."""
        running = set(self._running)
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _run(self, key: tuple[Hashable, int], batch: _Batch) -> None:
        # Subscribers woken with this one are ahead of this task on the loop: they have
        # joined. Later ones start a batch of their own.
        del self._pending[key]
        started = time.perf_counter()
        try:
            answers = await self._resolve_waiting(batch)
        except asyncio.CancelledError:
            # The process is stopping (`aclose`): no subscriber may wait for ever.
            for futures in batch.waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(LiveReadFailed("the process is stopping"))
            raise
        except Exception as exc:
            log.exception("live read of post %s failed", batch.post_id)
            for futures in batch.waiting.values():
                for future in futures:
                    if not future.done():
                        failed = LiveReadFailed(str(exc))
                        failed.__cause__ = exc
                        future.set_exception(failed)
            return
        for viewer, futures in batch.waiting.items():
            text = answers.get(viewer)
            for future in futures:
                if not future.done():
                    future.set_result(text)
        metrics.LIVE_READS.inc()
        metrics.LIVE_READ_VIEWERS.observe(sum(len(f) for f in batch.waiting.values()))
        metrics.LIVE_READ_SECONDS.observe(time.perf_counter() - started)

    async def _resolve_waiting(self, batch: _Batch) -> dict[int | None, str | None]:
        """`_resolve`, retried with a growing pause while the database does not answer (a
        restart, a failover: the subscribers wait for their event instead of reconnecting
        all at once); an outage outlasting `OUTAGE_RETRIES`, or any other failure, fails."""
        for pause in (*OUTAGE_RETRIES, None):
            try:
                return await self._resolve(batch)
            except Exception as exc:
                if pause is None or not retryable(exc):
                    raise
                log.warning(
                    "live read of post %s failed (%r); again in %.2f s", batch.post_id, exc, pause
                )
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _base(self, batch: _Batch) -> Sequence[Any] | None:
        # Read for each batch, never kept: a subscriber that asks later (a late one, one
        # catching up with `after`) sees the post as it is now, as the general path would.
        rows = await self.reader.fetch(batch.read.base, {"key": batch.post_id})
        return rows[0] if rows else None

    async def _facts(self, batch: _Batch) -> dict[int | None, tuple[Any, ...]]:
        read, values = batch.read, {"key": batch.post_id}
        facts: dict[int | None, tuple[Any, ...]] = {}
        if None in batch.waiting:
            rows = await self.reader.fetch(read.anonymous, values)
            if rows:
                facts[None] = tuple(rows[0])
        viewers = [viewer for viewer in batch.waiting if viewer is not None]
        if viewers and self.reader.reads_many:
            for row in await self.reader.fetch(read.many, {**values, "viewers": viewers}):
                whole = tuple(row)
                facts[whole[0]] = whole[1:]
        else:
            for viewer in viewers:
                rows = await self.reader.fetch(read.one, {**values, "viewer": viewer})
                if rows:
                    facts[viewer] = tuple(rows[0])
        return facts

    async def _resolve(self, batch: _Batch) -> dict[int | None, str | None]:
        base = await self._base(batch)
        if base is None:
            return {}  # the post is gone: no one sees it
        shaped: dict[tuple[Any, ...], str] = {}
        answers: dict[int | None, str | None] = {}
        for viewer, facts in (await self._facts(batch)).items():
            if not facts[0]:
                answers[viewer] = None
                continue
            text = shaped.get(facts)
            if text is None:
                text = shaped[facts] = batch.shape(batch.read.merge(base, facts), batch.seq)
            answers[viewer] = text
        return answers
