"""A Redis pub/sub backend for broadcaster that survives Redis outages.

broadcaster 0.3.1's ``RedisBackend`` is unusable for us for two reasons:

* With redis-py 8 its listener calls ``pubsub.listen()`` before the first SUBSCRIBE has
  completed; ``listen()`` returns at once when nothing is subscribed yet, so the backend
  never delivers a single message.
* When the Redis connection drops, the listener task dies with the error and nothing
  notices (encode/broadcaster#144): the process silently stops receiving events.

``ResilientRedisBackend`` keeps broadcaster's backend interface, but a supervised task owns
the pub/sub connection: it reconnects with exponential backoff, re-subscribes, and reports
each reconnect through ``on_reconnect`` so the app can replay what it missed from its
durable event log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from broadcaster import Event
from broadcaster._backends.base import BroadcastBackend
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from telemetry.redis import redis_call

logger = logging.getLogger("chirp.broadcast")

_CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
_POLL_SECONDS = 1.0
# Bounds the connect handshake and SUBSCRIBE writes of the subscriber; its reads pass their
# own timeout, so an idle subscription is not affected.
_SUBSCRIBER_SOCKET_TIMEOUT = 5.0


class ResilientRedisBackend(BroadcastBackend):
    def __init__(
        self,
        url: str,
        *,
        min_delay: float = 0.1,
        max_delay: float = 5.0,
        health_check_interval: float = 5.0,
    ) -> None:
        # No super().__init__(): the base class constructor only raises NotImplementedError.
        self.on_reconnect: Callable[[], None] | None = None
        self.reconnects = 0
        self._min_delay = min_delay
        self._max_delay = max_delay
        self._delay = min_delay
        self._health_check_interval = health_check_interval
        # One retry lets a pooled connection that died with the server reconnect within the
        # same call; while Redis is down the error reaches the caller, which retries later.
        self._conn = Redis.from_url(
            url,
            health_check_interval=health_check_interval,
            socket_connect_timeout=2,
            socket_timeout=None,
            retry=Retry(NoBackoff(), 1),
        )
        # No retries: redis-py would reconnect and re-subscribe behind our back, hiding the
        # gap from on_reconnect.
        self._sub_conn = Redis.from_url(
            url,
            health_check_interval=health_check_interval,
            socket_connect_timeout=2,
            socket_timeout=_SUBSCRIBER_SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._channels: set[str] = set()
        self._has_channels = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None
        self._unconfirmed: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._connected = False
        self._backing_off = False
        # True once the subscription may have missed messages (a disconnect or a failed
        # attempt); the next successful connect then counts as a reconnect.
        self._gap = False

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._run(), name="chirp-broadcast-listener")

    async def disconnect(self) -> None:
        task, self._listener = self._listener, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
        await self._drop_pubsub()
        for client in (self._sub_conn, self._conn):
            try:
                await client.aclose()
            except Exception:
                logger.debug("Error closing Redis client", exc_info=True)

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        self._has_channels.set()
        if self._listener is None or self._backing_off:
            return  # Redis is unreachable: the listener subscribes the channel on reconnect.
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(waiter)
        pubsub = self._pubsub
        if pubsub is not None:
            try:
                await pubsub.subscribe(channel)
            except _CONNECTION_ERRORS:
                return  # The listener sees the broken connection and re-subscribes later.
        # Otherwise the listener is connecting and subscribes everything in self._channels.
        await waiter

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if not self._channels:
            self._has_channels.clear()
        pubsub = self._pubsub
        if pubsub is not None:
            # On failure the next connection subscribes only what is left in self._channels.
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        with redis_call("publish"):
            await self._conn.publish(channel, message)

    async def ping(self, *, timeout: float = 1.0) -> bool:
        """One PING on the publishing connection (readiness); False on failure or timeout."""
        try:
            with redis_call("ping"):
                async with asyncio.timeout(timeout):
                    await self._conn.ping()
        except Exception:
            return False
        return True

    async def next_published(self) -> Event:
        return await self._queue.get()

    async def _run(self) -> None:
        while True:
            await self._has_channels.wait()
            try:
                await self._listen()
            except _CONNECTION_ERRORS as exc:
                logger.warning(
                    "Redis pub/sub connection lost (%s); reconnecting in %.2fs", exc, self._delay
                )
            except Exception:
                logger.exception("Redis pub/sub listener failed; restarting in %.2fs", self._delay)
            self._gap = True
            self._backing_off = True
            await self._drop_pubsub()
            try:
                await asyncio.sleep(self._delay)
            finally:
                self._backing_off = False
            self._delay = min(self._delay * 2, self._max_delay)

    async def _listen(self) -> None:
        pubsub = self._sub_conn.pubsub()
        await pubsub.connect()  # type: ignore[no-untyped-call]
        opened_at = asyncio.get_running_loop().time()
        # From here on subscribe() sends its own SUBSCRIBE, so the snapshot misses nothing.
        self._pubsub = pubsub
        channels = sorted(self._channels)
        self._unconfirmed = set(channels)
        if channels:
            await pubsub.subscribe(*channels)
        else:
            self._mark_connected()
        while True:
            self._check_alive(pubsub, opened_at)
            message = await pubsub.get_message(timeout=_POLL_SECONDS)
            if message is not None:
                self._handle(message)

    def _check_alive(self, pubsub: PubSub, opened_at: float) -> None:
        conn = pubsub.connection
        if conn is None or not conn.is_connected:
            # get_message() would silently reconnect and re-subscribe, hiding the gap.
            raise RedisConnectionError("pub/sub connection closed")
        if not self._health_check_interval:
            return
        # redis-py PINGs once a read is overdue but never times the PONG out
        # (socket_timeout=None), so a frozen server or half-open TCP connection would hang
        # us forever without this check.
        silent_since = max(conn.next_health_check, opened_at + self._health_check_interval)
        if asyncio.get_running_loop().time() > silent_since + self._health_check_interval:
            raise RedisTimeoutError("no reply from Redis to the pub/sub health check")

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "subscribe":
            channel = message["channel"].decode()
            for waiter in self._waiters.pop(channel, []):
                if not waiter.done():
                    waiter.set_result(None)
            self._unconfirmed.discard(channel)
            if not self._connected and not self._unconfirmed:
                self._mark_connected()
        elif kind == "message":
            channel = message["channel"].decode()
            try:
                data = message["data"].decode()
            except UnicodeDecodeError:
                logger.warning("Dropping a non-UTF-8 message on channel %r", channel)
                return
            self._queue.put_nowait(Event(channel=channel, message=data))

    def _mark_connected(self) -> None:
        self._connected = True
        self._delay = self._min_delay
        if not self._gap:
            return
        self._gap = False
        self.reconnects += 1
        logger.info("Redis pub/sub reconnected to %d channel(s)", len(self._channels))
        if self.on_reconnect is not None:
            try:
                self.on_reconnect()
            except Exception:
                logger.exception("on_reconnect callback failed")

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._connected = False
        # Blocked subscribe() calls return; their channels are subscribed on reconnect.
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self._waiters.clear()
        if pubsub is not None:
            try:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            except Exception:
                logger.debug("Error closing Redis pub/sub connection", exc_info=True)
