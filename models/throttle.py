"""Rate limits: named rules over rolling windows, counted in Redis when Chirp has one (so
every process shares them) and in process memory on the embedded default.

Built on the `limits` library's sliding-window counters (constant memory per key, whatever
the cost charged). A rule is a name and a rate such as "5/15 minutes"; the key says whom it
counts (an account, an IP group, a pair of them). Callers decide what a hit is: an attempt,
a failure, or the cost of an operation (`cost=`).

If Redis fails, counting falls back to this process's memory (limits still hold per
process) and `chirp_rate_limit_storage_errors_total` counts the fallbacks: an outage of the
counters never refuses honest traffic wholesale, nor lets it through unlimited. After a
failure Redis is left alone for `RETRY_SHARED_AFTER` seconds: every operation is charged to
a budget, and an outage must not make each of them wait for (and log) a failing call."""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from telemetry import metrics

log = logging.getLogger("chirp.throttle")
T = TypeVar("T")
RETRY_SHARED_AFTER = 5.0  # seconds counting in memory after Redis failed, before trying again


class RateLimited(Exception):
    """Over a limit: the client may try again after `retry_after` seconds. Reaches a client
    as a top-level GraphQL error on the refused field (`extensions.code` RATE_LIMITED,
    `extensions.retryAfter`), or as HTTP 429 with `Retry-After` where a whole request is
    refused. Never masked: it is an expected answer, not a failure."""

    code = "RATE_LIMITED"

    def __init__(self, rule: str, retry_after: int, message: str | None = None) -> None:
        self.rule = rule
        self.retry_after = max(1, retry_after)
        super().__init__(
            message or f"Too many requests ({rule}); try again in {self.retry_after} seconds."
        )

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "retryAfter": self.retry_after, "limit": self.rule}


@dataclass(frozen=True)
class Verdict:
    """The state of one rule for one key after a hit (or a look)."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the window has room again

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))


class Throttle:
    """The process's rate limiter: `rules` maps a rule name to a rate ("5/15 minutes")."""

    def __init__(
        self, rules: Mapping[str, str], *, redis_url: str | None = None, prefix: str = "chirp"
    ) -> None:
        self.rules: dict[str, RateLimitItem] = {name: parse(rate) for name, rate in rules.items()}
        self._memory = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._shared: SlidingWindowCounterRateLimiter | None = None
        self._storage: Storage | None = None
        self._shared_down_until = 0.0
        if redis_url:
            self._storage = RedisStorage(
                _limits_uri(redis_url),
                implementation="redispy",
                key_prefix=f"{prefix}:limits",
                wrap_exceptions=True,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
            self._shared = SlidingWindowCounterRateLimiter(self._storage)

    def rule(self, name: str) -> RateLimitItem:
        return self.rules[name]

    async def hit(self, name: str, *key: str, cost: int = 1) -> Verdict:
        """Count `cost` against `name` for `key`; `allowed` is False (and nothing is counted)
        when that would go over the limit."""
        item, ids = self.rules[name], (name, *key)
        if cost > item.amount:
            stats = await self._run(lambda lim: lim.get_window_stats(item, *ids))
            return Verdict(False, item.amount, stats.remaining, time.time() + item.get_expiry())
        allowed = await self._run(lambda lim: lim.hit(item, *ids, cost=cost))
        stats = await self._run(lambda lim: lim.get_window_stats(item, *ids))
        return Verdict(allowed, item.amount, stats.remaining, stats.reset_time)

    async def check(self, name: str, *key: str, cost: int = 1) -> Verdict:
        """`hit`, raising RateLimited when over the limit."""
        verdict = await self.hit(name, *key, cost=cost)
        if not verdict.allowed:
            metrics.RATE_LIMITED.labels(name).inc()
            raise RateLimited(name, verdict.retry_after)
        return verdict

    async def peek(self, name: str, *key: str) -> Verdict:
        """The rule's state for `key` without counting anything."""
        item, ids = self.rules[name], (name, *key)
        stats = await self._run(lambda lim: lim.get_window_stats(item, *ids))
        return Verdict(stats.remaining > 0, item.amount, stats.remaining, stats.reset_time)

    async def clear(self, name: str, *key: str) -> None:
        item, ids = self.rules[name], (name, *key)
        await self._run(lambda lim: lim.clear(item, *ids))

    async def _run(self, call: Callable[[SlidingWindowCounterRateLimiter], Awaitable[T]]) -> T:
        if self._shared is not None:
            if time.monotonic() < self._shared_down_until:
                metrics.RATE_LIMIT_STORAGE_ERRORS.inc()
                return await call(self._memory)
            try:
                return await call(self._shared)
            except Exception as exc:  # any storage failure: count in memory meanwhile
                metrics.RATE_LIMIT_STORAGE_ERRORS.inc()
                self._shared_down_until = time.monotonic() + RETRY_SHARED_AFTER
                log.warning(
                    "rate-limit storage failed (%s); counting in process memory for %.0f s",
                    exc,
                    RETRY_SHARED_AFTER,
                    # An outage is one line; anything else (a bug) keeps its traceback.
                    exc_info=not isinstance(exc, StorageError),
                )
        return await call(self._memory)

    async def aclose(self) -> None:
        if self._storage is not None:
            storage = self._storage
            self._storage = None
            # RedisStorage keeps a connection pool; release it with the process.
            close = getattr(getattr(storage, "bridge", None), "storage", None)
            if close is not None and hasattr(close, "aclose"):
                await close.aclose()


def _limits_uri(redis_url: str) -> str:
    """The limits library names its async Redis storage `async+redis://`."""
    for scheme in ("redis://", "rediss://", "unix://"):
        if redis_url.startswith(scheme):
            return "async+" + redis_url
    return redis_url


def ip_group(ip: str) -> str:
    """The key an IP address is counted under: IPv4 as is, IPv6 by its /64 (one customer's
    allocation, which a client can hop around in at will). Unparseable input is its own key."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
