"""Several hits counted together (Throttle.admit_together, models/throttle.py): every window of
every hit or none of them, in one Redis round trip, on the same counts as `hit`, `peek` and
`clear`; in process memory without Redis and when Redis fails."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from models.throttle import Hit, RateLimited, Throttle
from telemetry import metrics
from tests.support.budgets import within_one_window
from tests.support.limits import STORES, throttle_in
from tests.support.servers import free_port

RULES = {
    "login": "3/15 minutes",
    "budget": "100/minute",
    "backoff": "2/2 seconds;3/minute",
    "short": "3/2 seconds",
}


@pytest.fixture(autouse=True)
async def one_window() -> None:
    """Counters in process memory keep windows that follow the clock: each test's hits fall
    within one window, or a boundary in the middle would let a weighted count slip."""
    await within_one_window(900, margin=8)
    await within_one_window(60, margin=10)


def throttle(store: str) -> Throttle:
    return throttle_in(store, RULES)


@pytest.mark.parametrize("store", STORES)
async def test_hits_counted_together_are_the_counts_hit_and_peek_see(store: str) -> None:
    limiter = throttle(store)
    budget, login = Hit("budget", ("ip",), cost=60), Hit("login", ("alice", "10.0.0.1"))

    first = await limiter.admit_together([budget, login])

    assert [(v.allowed, v.limit, v.remaining) for v in first] == [(True, 100, 40), (True, 3, 2)]
    assert (await limiter.peek("budget", "ip")).remaining == 40
    assert (await limiter.peek("login", "alice", "10.0.0.1")).remaining == 2
    # `hit` counts on top of what was counted together, and the other way round.
    assert (await limiter.hit("budget", "ip", cost=30)).remaining == 10
    second = await limiter.admit_together([Hit("budget", ("ip",), cost=10), login])
    assert [(v.allowed, v.remaining) for v in second] == [(True, 0), (True, 1)]
    assert not (await limiter.hit("budget", "ip")).allowed
    # `clear` empties what was counted together.
    await limiter.clear("budget", "ip")
    assert (await limiter.peek("budget", "ip")).remaining == 100
    assert await limiter.admit_together([]) == []
    await limiter.aclose()


@pytest.mark.parametrize("store", STORES)
async def test_when_one_rule_is_full_nothing_is_counted_for_any_hit(store: str) -> None:
    limiter = throttle(store)
    for _ in range(3):
        await limiter.hit("login", "bob")

    refused = await limiter.admit_together(
        [Hit("budget", ("bob",), cost=10), Hit("login", ("bob",))]
    )

    # The full rule is refused; the other had room but was not counted either.
    assert [v.allowed for v in refused] == [True, False]
    assert refused[1].remaining == 0 and 1 <= refused[1].retry_after <= 2 * 15 * 60
    assert refused[0].remaining == 100
    assert (await limiter.peek("budget", "bob")).remaining == 100
    with pytest.raises(RateLimited) as raised:
        await limiter.check_together([Hit("budget", ("bob",), cost=10), Hit("login", ("bob",))])
    assert raised.value.extensions["limit"] == "login"
    assert (await limiter.peek("budget", "bob")).remaining == 100
    # A rule and key given twice count twice: four hits of a rule of three pass none.
    four = await limiter.admit_together([Hit("login", ("eve",))] * 4)
    assert [v.allowed for v in four] == [True, True, True, False]
    assert (await limiter.peek("login", "eve")).remaining == 3
    three = await limiter.admit_together([Hit("login", ("eve",))] * 3)
    assert all(v.allowed and v.remaining == 0 for v in three)
    assert not (await limiter.hit("login", "eve")).allowed
    await limiter.aclose()


@pytest.mark.parametrize("store", STORES)
async def test_a_rule_of_several_windows_is_counted_in_all_of_them_or_none(store: str) -> None:
    limiter = throttle(store)
    verdicts = [
        (await limiter.admit_together([Hit("backoff", ("mallory",)), Hit("budget", ("m",))]))
        for _ in range(3)
    ]

    assert [[v.allowed for v in pair] for pair in verdicts] == [
        [True, True],
        [True, True],
        [False, True],
    ]
    assert verdicts[-1][0].retry_after <= 2  # the short window is full: a short wait
    # The refused third pair counted nothing: the minute window of `backoff` has one left,
    # the budget two hits.
    assert (await limiter.peek("budget", "m")).remaining == 98
    assert (await limiter.peek("backoff", "mallory")).remaining == 0  # the short window
    await limiter.clear("backoff", "mallory")
    assert (await limiter.peek("backoff", "mallory")).remaining == 2
    await limiter.aclose()


@pytest.mark.parametrize("store", STORES)
async def test_a_cost_over_a_rule_s_limit_is_refused_and_counts_nothing(store: str) -> None:
    limiter = throttle(store)

    verdicts = await limiter.admit_together([Hit("budget", ("x",), cost=101), Hit("login", ("x",))])

    assert [v.allowed for v in verdicts] == [False, True]
    assert verdicts[0].remaining == 100
    assert 59 <= verdicts[0].reset_at - time.time() <= 60  # as `hit` reports it
    assert (await limiter.peek("login", "x")).remaining == 3
    await limiter.aclose()


@pytest.mark.parametrize("store", STORES)
async def test_windows_shift_as_limits_shifts_them(store: str) -> None:
    # Early in a two-second window of the clock (the memory store's windows follow it), so
    # that two seconds and a bit later the previous window still weighs 3 * 1.9/2: 2 hits.
    # The weighting needs the second round within 0.5 s of its window's start; a busy machine
    # can miss that, so a round that did is played again on fresh keys (three tries).
    limiter = throttle(store)
    for attempt in range(3):
        await asyncio.sleep(-time.time() % 2 + 0.05)
        window = time.time() // 2
        alone_key, together_key = f"a{attempt}", f"b{attempt}"

        async def both(alone_key: str = alone_key, together_key: str = together_key) -> Any:
            alone = await limiter.hit("short", alone_key)
            (together,) = await limiter.admit_together([Hit("short", (together_key,))])
            return (alone.allowed, alone.remaining), (together.allowed, together.remaining)

        first = [await both() for _ in range(4)]
        first_in_time = time.time() // 2 == window
        await asyncio.sleep(2.1)  # the window has shifted: the last one's count, weighted, stays
        second = [await both() for _ in range(2)]
        if first_in_time and time.time() // 2 == window + 1 and time.time() % 2 < 0.5:
            break
    else:
        pytest.fail("the machine was too busy for the window arithmetic three times running")

    assert [t for _, t in first] == [(True, 2), (True, 1), (True, 0), (False, 0)]
    assert [t for _, t in second] == [(True, 0), (False, 0)]
    # Counted together or by `hit`, the same key counts the same.
    assert [a for a, _ in first + second] == [t for _, t in first + second]
    assert (await limiter.peek("short", together_key)).remaining == 0
    await limiter.aclose()


async def test_when_redis_fails_hits_are_counted_together_in_process_memory() -> None:
    # Nothing listens on this port: every Redis call fails.
    limiter = Throttle(RULES, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    before = metrics.RATE_LIMIT_STORAGE_ERRORS._value.get()

    verdicts = [
        await limiter.admit_together([Hit("login", ("carol",)), Hit("budget", ("carol",))])
        for _ in range(4)
    ]

    assert [[v.allowed for v in pair] for pair in verdicts] == [[True, True]] * 3 + [[False, True]]
    # One failed call, then memory alone until STORAGE_RETRY_SECONDS have passed.
    assert metrics.RATE_LIMIT_STORAGE_ERRORS._value.get() == before + 1
    # `hit` and `peek` fall back to the same memory: the refused pair counted nothing.
    assert (await limiter.peek("budget", "carol")).remaining == 97
    assert not (await limiter.hit("login", "carol")).allowed
    # Once Redis may be tried again, it is, and fails once more.
    limiter._shared_back_at = 0.0
    await limiter.admit_together([Hit("budget", ("carol",))])
    assert metrics.RATE_LIMIT_STORAGE_ERRORS._value.get() == before + 2
    await limiter.aclose()
