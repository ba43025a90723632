"""The rate limiter (models/throttle.py) on Redis and in process memory, its fallback when
Redis fails, address grouping, and the client address behind trusted proxies."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.middleware import ClientAddress
from app.settings import DEFAULT_RATE_LIMITS, Settings, SettingsError
from models.throttle import RateLimited, Throttle, ip_group
from telemetry import metrics
from tests.support.backends import REDIS_URL
from tests.support.budgets import within_one_window
from tests.support.limits import STORES, throttle_in
from tests.support.servers import free_port

RULES = {"login": "3/15 minutes", "budget": "100/minute", "backoff": "2/2 seconds;3/minute"}


@pytest.fixture(autouse=True)
async def one_window() -> None:
    """Counters in process memory keep windows that follow the clock: each test's hits fall
    within one window, or a boundary in the middle would let a weighted count slip."""
    await within_one_window(900, margin=4)
    await within_one_window(60, margin=6)


def throttle(store: str) -> Throttle:
    return throttle_in(store, RULES)


@pytest.mark.parametrize("store", STORES)
async def test_a_rule_allows_its_rate_then_refuses_with_a_retry_time(store: str) -> None:
    limiter = throttle(store)
    verdicts = [await limiter.hit("login", "alice", "10.0.0.1") for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    assert 1 <= verdicts[-1].retry_after <= 15 * 60
    # Another key is counted apart.
    assert (await limiter.hit("login", "alice", "10.0.0.2")).allowed
    with pytest.raises(RateLimited) as refused:
        await limiter.check("login", "alice", "10.0.0.1")
    assert refused.value.extensions["code"] == "RATE_LIMITED"
    assert refused.value.extensions["retryAfter"] == refused.value.retry_after >= 1
    await limiter.clear("login", "alice", "10.0.0.1")
    assert (await limiter.peek("login", "alice", "10.0.0.1")).remaining == 3
    await limiter.aclose()


@pytest.mark.parametrize("store", STORES)
async def test_admit_counts_like_hit_and_reads_the_window_only_when_it_refuses(store: str) -> None:
    limiter = throttle(store)
    passed = [await limiter.admit("login", "dave") for _ in range(3)]
    refused = await limiter.admit("login", "dave")

    assert passed == [None, None, None]
    assert refused is not None and not refused.allowed and refused.remaining == 0
    assert 1 <= refused.retry_after <= 2 * 15 * 60
    # The same counts as `hit`: the three admitted hits used the whole allowance.
    assert not (await limiter.hit("login", "dave")).allowed
    await limiter.aclose()


@pytest.mark.parametrize("store", STORES)
async def test_a_cost_is_charged_whole_or_not_at_all(store: str) -> None:
    limiter = throttle(store)
    assert (await limiter.hit("budget", "ip", cost=60)).remaining == 40
    refused = await limiter.hit("budget", "ip", cost=50)
    assert not refused.allowed and refused.remaining == 40
    assert (await limiter.hit("budget", "ip", cost=40)).remaining == 0
    # More than the whole limit can never pass, and counts nothing.
    fresh = await limiter.hit("budget", "other", cost=101)
    assert not fresh.allowed and fresh.remaining == 100
    await limiter.aclose()


@pytest.mark.parametrize("store", STORES)
async def test_a_rule_of_several_windows_locks_out_for_longer_once_a_longer_one_fills(
    store: str,
) -> None:
    limiter = throttle(store)
    local = limiter.local_counter("backoff")  # the same windows, counted on their owner
    first = [await limiter.hit("backoff", "mallory") for _ in range(3)]
    first_local = [local.hit() for _ in range(3)]
    await asyncio.sleep(2.1)  # the short window has room again; the minute has one left
    second = [await limiter.hit("backoff", "mallory") for _ in range(2)]
    second_local = [local.hit() for _ in range(2)]

    assert [v.allowed for v in first_local] == [True, True, False]
    assert [v.allowed for v in second_local] == [True, False]
    assert first_local[-1].retry_after <= 2 < second_local[-1].retry_after
    assert [v.allowed for v in first] == [True, True, False]
    assert first[-1].retry_after <= 2  # the short window is full: a short wait
    assert [v.allowed for v in second] == [True, False]
    assert second[-1].retry_after > 2  # now the minute is full: a longer one
    assert second[-1].remaining == 0
    # Refused hits counted nothing in any window.
    assert (await limiter.peek("backoff", "mallory")).remaining == 0
    await limiter.clear("backoff", "mallory")
    assert (await limiter.peek("backoff", "mallory")).remaining == 2
    await limiter.aclose()


async def test_a_local_counter_counts_a_rule_on_its_owner() -> None:
    limiter = Throttle(RULES, redis_url=REDIS_URL, prefix=f"chirp-test-{uuid.uuid4().hex[:8]}")
    socket, other = limiter.local_counter("login"), limiter.local_counter("login")
    verdicts = [socket.hit() for _ in range(4)]

    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    # A window full by itself has room again once, as the previous window, its weighted
    # count has decayed below the limit: within two window lengths, whatever the clock.
    assert 1 <= verdicts[-1].retry_after <= 2 * 15 * 60
    assert other.hit().allowed  # another owner, another count
    assert (await limiter.peek("login")).remaining == 3  # nothing went to the storage
    await limiter.aclose()


async def test_two_limiters_on_one_redis_share_their_counts() -> None:
    if "redis" not in STORES:
        pytest.fail("Redis must answer on 127.0.0.1:6379 for this test")
    prefix = f"chirp-test-{uuid.uuid4().hex[:8]}"
    one = Throttle(RULES, redis_url=REDIS_URL, prefix=prefix)
    two = Throttle(RULES, redis_url=REDIS_URL, prefix=prefix)
    assert (await one.hit("login", "bob")).allowed
    assert (await two.hit("login", "bob")).allowed
    assert (await one.hit("login", "bob")).allowed
    assert not (await two.hit("login", "bob")).allowed
    await one.aclose()
    await two.aclose()


async def test_when_redis_fails_limits_still_hold_in_process_memory() -> None:
    # Nothing listens on this port: every Redis call fails.
    limiter = Throttle(RULES, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    before = metrics.RATE_LIMIT_STORAGE_ERRORS._value.get()
    verdicts = [await limiter.hit("login", "carol") for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    # One failed call, then memory alone until STORAGE_RETRY_SECONDS have passed: an
    # outage does not cost every request a failed call.
    assert metrics.RATE_LIMIT_STORAGE_ERRORS._value.get() == before + 1
    await limiter.aclose()


async def test_after_a_redis_failure_counting_stays_in_memory_without_retrying_redis() -> None:
    # A listener that accepts connections and never answers: each Redis call would wait for
    # its timeout. After the first failure, the next counts must not even connect.
    connections = 0

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read()
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = Throttle(RULES, redis_url=f"redis://127.0.0.1:{port}/0")
    try:
        first = await limiter.hit("login", "dave")
        tried = connections
        later = [await limiter.hit("login", "dave") for _ in range(3)]
    finally:
        await limiter.aclose()
        server.close()

    assert first.allowed and tried >= 1
    assert [v.allowed for v in later] == [True, True, False]
    assert connections == tried


def test_ipv6_addresses_are_counted_by_their_64_bit_prefix() -> None:
    assert (
        ip_group("2001:db8:1:2:aaaa::1")
        == ip_group("2001:db8:1:2:ffff::9")
        == ("2001:db8:1:2::/64")
    )
    assert ip_group("2001:db8:1:3::1") != ip_group("2001:db8:1:2::1")
    assert ip_group("203.0.113.7") == "203.0.113.7"
    assert ip_group("::ffff:203.0.113.7") == "203.0.113.7"
    assert ip_group("not an address") == "not an address"
    assert ip_group("") == "unknown"


def test_forwarding_headers_count_only_behind_a_trusted_proxy() -> None:
    direct = ClientAddress(app=None, trusted_proxies=())  # type: ignore[arg-type]
    assert direct.client_ip("198.51.100.1", ["203.0.113.9"]) == "198.51.100.1"
    proxied = ClientAddress(app=None, trusted_proxies=("10.0.0.0/8",))  # type: ignore[arg-type]
    # A peer that is not a trusted proxy cannot choose its address.
    assert proxied.client_ip("198.51.100.1", ["203.0.113.9"]) == "198.51.100.1"
    # Behind the proxy: the right-most hop that is not a trusted proxy; what the client
    # prepended itself is ignored.
    assert proxied.client_ip("10.0.0.5", ["1.2.3.4, 203.0.113.9"]) == "203.0.113.9"
    assert proxied.client_ip("10.0.0.5", ["1.2.3.4, 203.0.113.9, 10.0.0.7"]) == "203.0.113.9"
    assert proxied.client_ip("10.0.0.5", ["1.2.3.4", "203.0.113.9"]) == "203.0.113.9"
    assert proxied.client_ip("10.0.0.5", []) == "10.0.0.5"
    assert proxied.client_ip("10.0.0.5", ["garbage, 203.0.113.9"]) == "203.0.113.9"
    assert proxied.client_ip("10.0.0.5", ["203.0.113.9, garbage"]) == "10.0.0.5"


def test_settings_read_rate_limits_and_proxies_and_refuse_bad_ones() -> None:
    settings = Settings(rate_limits={"login.account_ip": "5/15 minutes;20/day"}).check()
    assert settings.rate_limits["login.account_ip"] == "5/15 minutes;20/day"
    overridden = Settings.from_env({"RATE_LIMIT_LOGIN_ACCOUNT_IP": "3/hour"}).rate_limits
    assert overridden["login.account_ip"] == "3/hour"
    assert overridden["posts.account"] == DEFAULT_RATE_LIMITS["posts.account"]
    with pytest.raises(SettingsError, match="RATE_LIMIT_LOGIN_ACCOUNT_IP"):
        Settings(rate_limits={"login.account_ip": "lots"}).check()
    proxies = Settings.from_env({"TRUSTED_PROXIES": "10.0.0.0/8, ::1"}).trusted_proxies
    assert proxies == ("10.0.0.0/8", "::1")
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        Settings.from_env({"TRUSTED_PROXIES": "proxy.example.com"})
