"""ResilientRedisBackend against real, private redis-server processes (no mocks)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from broadcaster import Broadcast, Event
from redis.exceptions import ConnectionError as RedisConnectionError

from subscriptions.backend import ResilientRedisBackend
from tests.support.servers import RedisServer

pytestmark = pytest.mark.processes

CHANNEL = "chirp:test"


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path)
    try:
        await server.start()
        yield server
    finally:
        await server.kill()


def _reconnect_signal(backend: ResilientRedisBackend) -> asyncio.Event:
    reconnected = asyncio.Event()
    backend.on_reconnect = reconnected.set
    return reconnected


async def _publish_until_accepted(broadcast: Broadcast, message: str) -> None:
    """Publish like the app's outbox relay does: retry while Redis refuses."""
    for _ in range(50):
        try:
            await broadcast.publish(CHANNEL, message)
        except RedisConnectionError:
            await asyncio.sleep(0.1)
        else:
            return
    pytest.fail("publish kept failing after Redis came back")


async def _wait_until_disconnected(backend: ResilientRedisBackend) -> None:
    # connected is a plain property with no event to await, so poll it.
    while backend.connected:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def test_message_published_right_after_subscribe_returns_is_delivered(
    redis_server: RedisServer,
) -> None:
    async with (
        Broadcast(backend=ResilientRedisBackend(redis_server.url)) as broadcast,
        broadcast.subscribe(CHANNEL) as subscriber,
    ):
        await broadcast.publish(CHANNEL, "hello")
        async with asyncio.timeout(2):
            event = await subscriber.get()
    assert event == Event(channel=CHANNEL, message="hello")


async def test_subscriber_recovers_after_redis_is_killed_and_restarted(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="chirp.broadcast")
    backend = ResilientRedisBackend(redis_server.url, min_delay=0.05, max_delay=0.5)
    reconnected = _reconnect_signal(backend)
    async with Broadcast(backend=backend) as broadcast, broadcast.subscribe(CHANNEL) as subscriber:
        await broadcast.publish(CHANNEL, "before")
        async with asyncio.timeout(2):
            assert (await subscriber.get()).message == "before"
        assert backend.connected

        await redis_server.kill()
        async with asyncio.timeout(5):
            with pytest.raises(RedisConnectionError):
                await broadcast.publish(CHANNEL, "while down")
            await _wait_until_disconnected(backend)
        assert not reconnected.is_set()

        await redis_server.start()
        async with asyncio.timeout(10):
            # Messages published before the re-SUBSCRIBE are lost by design (the app replays
            # them from its event log in on_reconnect), so publish once the listener is back.
            await reconnected.wait()
            await _publish_until_accepted(broadcast, "after")
            event = await subscriber.get()

    assert event == Event(channel=CHANNEL, message="after")
    assert backend.reconnects >= 1
    assert any(r.levelno == logging.WARNING for r in caplog.records), "disconnect not logged"


async def test_message_from_another_client_is_delivered(redis_server: RedisServer) -> None:
    async with (
        Broadcast(backend=ResilientRedisBackend(redis_server.url)) as receiver,
        Broadcast(backend=ResilientRedisBackend(redis_server.url)) as sender,
        receiver.subscribe(CHANNEL) as subscriber,
    ):
        await sender.publish(CHANNEL, "from another process")
        async with asyncio.timeout(2):
            event = await subscriber.get()
    assert event == Event(channel=CHANNEL, message="from another process")


async def test_frozen_redis_is_detected_by_the_health_check(redis_server: RedisServer) -> None:
    # SIGSTOP keeps the TCP connection open but unanswered, like a half-open connection.
    backend = ResilientRedisBackend(
        redis_server.url, min_delay=0.05, max_delay=0.5, health_check_interval=0.5
    )
    reconnected = _reconnect_signal(backend)
    async with Broadcast(backend=backend) as broadcast, broadcast.subscribe(CHANNEL) as subscriber:
        assert backend.connected
        redis_server.freeze()
        async with asyncio.timeout(5):
            await _wait_until_disconnected(backend)

        redis_server.thaw()
        async with asyncio.timeout(10):
            await reconnected.wait()
            await _publish_until_accepted(broadcast, "after thaw")
            event = await subscriber.get()

    assert event == Event(channel=CHANNEL, message="after thaw")
    assert backend.reconnects == 1


async def test_publisher_reconnects_by_itself_after_restart(redis_server: RedisServer) -> None:
    backend = ResilientRedisBackend(redis_server.url)
    try:
        await backend.publish(CHANNEL, "pools a connection")
        await redis_server.kill()
        await redis_server.start()
        # The pooled connection died with the server; one call must still succeed.
        async with asyncio.timeout(5):
            await backend.publish(CHANNEL, "after restart")
    finally:
        await backend.disconnect()
