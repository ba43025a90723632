"""`schema.live.shared.deliver` closes its stream when its subscriber is cancelled (the
client completed the operation or went away) while a shared read is pending: the stream's
listener leaves the hub at once, not when a garbage collection finds the cycle (which, with
`chirp serve`'s frozen generations, may be minutes later)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import TimeoutError as PoolTimeout

from models.timeline.shared import LiveReadFailed
from schema.live import shared
from subscriptions import live
from subscriptions.events import LiveEvent
from subscriptions.hub import Hub


class _Context:
    cost = None
    viewer_id = 1

    def reset_for_event(self) -> None:
        pass


class _Plan:
    read = None

    @staticmethod
    def shape(row: Any, seq: int) -> str:
        return "{}"


class _PendingReads:
    """A shared read that has not answered yet (the batch is still running)."""

    async def answer(self, *args: Any, **kwargs: Any) -> str | None:
        await asyncio.Event().wait()
        return None


class _Operation:
    id = "1"

    def head(self) -> str:
        return "{"

    async def send(self, text: str) -> None:
        pass


def _stream(hub: Hub) -> AsyncGenerator[LiveEvent, None]:
    """A live stream from now on that wants every timeline event."""
    return live.stream(
        hub=hub,
        log_reader=None,  # type: ignore[arg-type]
        accepts=lambda event: True,
        types=live.TIMELINE_TYPES,
        revoked=lambda event: False,
        after=None,
        window=timedelta(minutes=10),
        max_events=10,
    )


async def test_a_subscriber_cancelled_mid_read_leaves_the_hub_at_once() -> None:
    hub = Hub(None, "events", None, queue_size=10)  # type: ignore[arg-type]
    events = _stream(hub)
    task = asyncio.create_task(
        shared.deliver(_Context(), _Plan(), _Operation(), _PendingReads(), events)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.01)
    registered = hub.listener_count
    hub._deliver(LiveEvent(seq=1, type="post_created", payload={"post_id": 1}))
    await asyncio.sleep(0.01)  # waiting for the shared read
    gc.disable()  # only the stream's own closing may take the listener off
    try:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for _ in range(5):
            await asyncio.sleep(0)
        left = hub.listener_count
    finally:
        gc.enable()

    assert registered == 1
    assert left == 0


class _FailedReads:
    """A shared read that failed, for the reason given."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause

    async def answer(self, *args: Any, **kwargs: Any) -> str | None:
        failed = LiveReadFailed(str(self.cause))
        failed.__cause__ = self.cause
        raise failed


async def _closed_by(cause: BaseException) -> tuple[int, str]:
    hub = Hub(None, "events", None, queue_size=10)  # type: ignore[arg-type]
    events = _stream(hub)
    reads = _FailedReads(cause)
    task = asyncio.create_task(
        shared.deliver(_Context(), _Plan(), _Operation(), reads, events)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.01)
    hub._deliver(LiveEvent(seq=1, type="post_created", payload={"post_id": 1}))
    try:
        await asyncio.wait_for(task, timeout=5)
    except live.StreamClosed as closed:
        return closed.code, closed.reason
    raise AssertionError("the stream did not close")


async def test_a_failed_shared_read_closes_with_a_code_saying_when_to_come_back() -> None:
    """The database still away after the read's retries: 1013 with a back-off in the reason
    (no reconnect storm); out of connections: 1013 overloaded; any other failure: 1011."""
    down = await _closed_by(ConnectionRefusedError(111, "Connection refused"))
    starved = await _closed_by(PoolTimeout("QueuePool limit of size 2 overflow 0 reached"))
    broken = await _closed_by(ValueError("a bug"))

    assert down == (1013, "Service unavailable; resubscribe with `after` in 5 seconds")
    assert starved == (live.CLOSE_OVERLOADED, live.OVERLOADED)
    assert broken == (1011, "Could not read an event; resubscribe with `after`")
