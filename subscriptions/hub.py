"""One broadcaster subscription per process, fanned out to bounded per-subscriber queues.

Events carry a contiguous `seq`. The hub delivers them in order exactly once: duplicates
(a republished event) are dropped, and a gap (an event missed while Redis was away) is
filled from the durable log before the later event is delivered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from broadcaster import Broadcast
from broadcaster._base import Unsubscribed

from subscriptions.events import EventLog, LiveEvent
from subscriptions.waiting import wait_event
from telemetry import metrics

log = logging.getLogger("chirp.hub")

GAP_FILL_BATCH = 500


class Listener:
    """A subscriber's bounded queue. A consumer that falls behind is cut off, not buffered:
    on overflow the queue gets a final `None`, which tells the reader to close. A deque and
    one future, not an asyncio.Queue: every idle subscription holds one, so bytes count; for
    the same reason the deque is made on the first event and dropped once drained.

    An event is queued if `revoked` or `accepts` wants it; `observe`, when given, sees every
    event first (a subscriber's `ViewerGraph` keeps itself current from them). Three
    callables, not one closure over them: one object fewer per subscriber."""

    __slots__ = ("_items", "_waiter", "accepts", "maxsize", "observe", "overflowed", "revoked")

    def __init__(
        self,
        accepts: Callable[[LiveEvent], bool],
        maxsize: int,
        *,
        revoked: Callable[[LiveEvent], bool] | None = None,
        observe: Callable[[LiveEvent], None] | None = None,
    ) -> None:
        self.accepts = accepts
        self.revoked = revoked
        self.observe = observe
        self.maxsize = maxsize
        self.overflowed = False
        self._items: deque[LiveEvent | None] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, event: LiveEvent) -> bool:
        """Queue the event if this subscriber wants it; True if it was queued."""
        if self.overflowed:
            return False
        if self.observe is not None:
            self.observe(event)
        if not ((self.revoked is not None and self.revoked(event)) or self.accepts(event)):
            return False
        if (0 if self._items is None else len(self._items)) >= self.maxsize:
            self.overflowed = True
            self._push(None)
            return False
        self._push(event)
        return True

    def _push(self, item: LiveEvent | None) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def ready(self) -> bool:
        """Whether `pop` has an item."""
        return self._items is not None

    def wait(self) -> asyncio.Future[None]:
        """A future done once an item is queued (await it while not `ready`). A future, not
        a coroutine: the idle subscriber's task holds no frame of the listener's."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = asyncio.get_running_loop().create_future()
        return waiter

    def pop(self) -> LiveEvent | None:
        """The next item; only when `ready`."""
        items = self._items
        assert items is not None
        item = items.popleft()
        if not items:
            self._items = None
        return item


class Hub:
    def __init__(
        self,
        broadcast: Broadcast,
        channel: str,
        log_reader: EventLog,
        *,
        queue_size: int,
        resync_interval: float = 2.0,
    ) -> None:
        self._broadcast = broadcast
        self._channel = channel
        self._log = log_reader
        self.queue_size = queue_size
        self._resync_interval = resync_interval
        self._listeners: set[Listener] = set()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._resync_now = asyncio.Event()
        self._subscribed = asyncio.Event()
        self.last_seq = 0

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    async def start(self) -> None:
        self.last_seq = await self._log.last_seq()
        self._tasks = [
            asyncio.create_task(self._receive_forever(), name="chirp-hub-receive"),
            asyncio.create_task(self._resync_forever(), name="chirp-hub-resync"),
        ]
        async with asyncio.timeout(10):
            await self._subscribed.wait()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def request_resync(self) -> None:
        """Called when the pub/sub connection comes back: fetch what was missed."""
        self._resync_now.set()

    def listen(
        self,
        accepts: Callable[[LiveEvent], bool],
        *,
        revoked: Callable[[LiveEvent], bool] | None = None,
        observe: Callable[[LiveEvent], None] | None = None,
    ) -> Listener:
        """A listener for the events `revoked` or `accepts` wants, `observe` seeing all."""
        listener = Listener(accepts, self.queue_size, revoked=revoked, observe=observe)
        self._listeners.add(listener)
        return listener

    def forget(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    async def _receive_forever(self) -> None:
        async with self._broadcast.subscribe(self._channel) as subscriber:
            self._subscribed.set()
            while True:
                try:
                    message = await subscriber.get()
                except Unsubscribed:
                    return
                try:
                    event = LiveEvent.decode(message.message)
                except (ValueError, KeyError, TypeError):
                    log.warning("dropping malformed event message")
                    continue
                try:
                    await self._receive(event)
                except Exception:
                    # Reading a gap from the log failed; the resync loop fills it later.
                    log.exception("could not deliver event seq %s; resyncing", event.seq)
                    self.request_resync()

    async def _resync_forever(self) -> None:
        while True:
            await wait_event(self._resync_now, self._resync_interval)
            self._resync_now.clear()
            try:
                await self._fill(until=None)
            except Exception:
                log.exception("resync from the event log failed; retrying")

    async def _receive(self, event: LiveEvent) -> None:
        async with self._lock:
            if event.seq <= self.last_seq:
                return
            if event.seq > self.last_seq + 1:
                await self._fill_locked(until=event.seq - 1)
            if event.seq == self.last_seq + 1:
                self._deliver(event)

    async def _fill(self, *, until: int | None) -> None:
        async with self._lock:
            await self._fill_locked(until=until)

    async def _fill_locked(self, *, until: int | None) -> None:
        while True:
            batch = await self._log.after(self.last_seq, limit=GAP_FILL_BATCH, until=until)
            for event in batch:
                self._deliver(event)
            if len(batch) < GAP_FILL_BATCH:
                return

    def _deliver(self, event: LiveEvent) -> None:
        self.last_seq = event.seq
        delivered = 0
        for listener in list(self._listeners):
            delivered += listener.offer(event)
        if delivered:
            metrics.EVENTS_DELIVERED.inc(delivered)
