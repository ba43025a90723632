"""Rate limits: named rules over rolling windows, counted in Redis when Chirp has one (so
every process shares them) and in process memory on the embedded default.

Built on the `limits` library's sliding-window counters (constant memory per key, whatever
the cost charged). A rule is a name and a rate such as "5/15 minutes", or several windows
that must all have room ("5/15 minutes; 10/hour; 20/day": a growing back-off, since each
longer window locks out for longer once it fills); the key says whom it counts (an account,
an IP group, a pair of them). Callers decide what a hit is: an attempt, a failure, or the
cost of an operation (`cost=`). A key that lives in one process only (a WebSocket
connection) is counted in that process's memory (`local=True`), never in Redis.

Hits of several rules that a caller pays together (a request's address and its query budget)
are counted by `admit_together`: every window of every hit, or none of them, in one Redis
round trip (one Lua script over the same keys and counts as `limits`' own, so `hit`, `peek`
and `clear` see what it counted).

If Redis fails, counting falls back to this process's memory (limits still hold per
process) for STORAGE_RETRY_SECONDS before Redis is tried again, and
`chirp_rate_limit_storage_errors_total` counts the failed calls: an outage of the counters
never refuses honest traffic wholesale, nor lets it through unlimited, nor slows every
request by a failed call."""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import redis.asyncio
from limits import RateLimitItem, WindowStats, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from telemetry import metrics

log = logging.getLogger("chirp.throttle")
# After a failed Redis call, counts stay in process memory this long before Redis is tried
# again.
STORAGE_RETRY_SECONDS = 5.0
T = TypeVar("T")

# `Throttle.admit_together` in one round trip: `limits`' acquire_sliding_window.lua (the same
# keys, window shift and test) over several windows, testing every one before counting in
# any. KEYS: per window, its previous and its current key. ARGV[1]: per window, its limit,
# its length in seconds and the amount charged, as one string of numbers. Returns one string
# of numbers: 1 if counted (else 0), then per window 1 if it had no room (else 0) and, after
# counting, (previous count, previous TTL, current count, current TTL) as limits'
# sliding_window.lua reads them (TTLs in milliseconds). One argument and one string each way:
# packing and parsing a dozen of each costs the client more CPU than the script costs Redis.
_ADMIT_TOGETHER = """
local argv = {}
for number in string.gmatch(ARGV[1], '%S+') do
    argv[#argv + 1] = number
end
local windows = #argv / 3
local counted = 1
local full = {}
local charged = {}
for i = 1, windows do
    local limit = tonumber(argv[3 * i - 2])
    local expiry = tonumber(argv[3 * i - 1]) * 1000
    local amount = tonumber(argv[3 * i])
    local previous_key, current_key = KEYS[2 * i - 1], KEYS[2 * i]
    local current_ttl = tonumber(redis.call('pttl', current_key))
    if current_ttl > 0 and current_ttl < expiry then
        -- Current window expired, shift it to the previous window
        redis.call('rename', current_key, previous_key)
        redis.call('set', current_key, 0, 'PX', current_ttl + expiry)
    end
    local previous_count = tonumber(redis.call('get', previous_key)) or 0
    local previous_ttl = tonumber(redis.call('pttl', previous_key)) or 0
    local current_count = tonumber(redis.call('get', current_key)) or 0
    if previous_ttl <= 0 then
        previous_ttl = 0
    end
    -- What this call charges the window so far (a rule and key given twice count twice).
    local total = (charged[current_key] or 0) + amount
    charged[current_key] = total
    local weighted_count = math.floor(previous_count * previous_ttl / expiry) + current_count
    if amount > limit or (weighted_count + total) > limit then
        full[i] = 1
        counted = 0
    else
        full[i] = 0
    end
end
if counted == 1 then
    for i = 1, windows do
        local current_key = KEYS[2 * i]
        if redis.call('exists', current_key) == 1 then
            redis.call('incrby', current_key, argv[3 * i])
        else
            redis.call('set', current_key, argv[3 * i], 'PX', tonumber(argv[3 * i - 1]) * 2000)
        end
    end
end
local reply = {counted}
for i = 1, windows do
    local previous_key, current_key = KEYS[2 * i - 1], KEYS[2 * i]
    reply[#reply + 1] = full[i]
    reply[#reply + 1] = tonumber(redis.call('get', previous_key)) or 0
    reply[#reply + 1] = redis.call('pttl', previous_key)
    reply[#reply + 1] = tonumber(redis.call('get', current_key)) or 0
    reply[#reply + 1] = redis.call('pttl', current_key)
end
return table.concat(reply, ' ')
"""


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


@dataclass(frozen=True, slots=True)
class Hit:
    """One hit of `Throttle.admit_together`: `cost` against rule `rule` for `key` (the
    identifiers `hit(rule, *key)` takes)."""

    rule: str  # a rule name in Throttle.windows
    key: tuple[str, ...]
    cost: int = 1


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
        self,
        rules: Mapping[str, str],
        *,
        redis_url: str | None = None,
        prefix: str = "chirp",
        in_flight: Mapping[str, int] | None = None,
    ) -> None:
        # Places in flight per key of a kind (see `enter`), by kind; callers give a default.
        self.in_flight_limits: dict[str, int] = dict(in_flight or {})
        self.windows: dict[str, tuple[RateLimitItem, ...]] = {
            name: tuple(parse_many(rate)) for name, rate in rules.items()
        }
        # Each rule's first window: the rate a single-window rule is.
        self.rules: dict[str, RateLimitItem] = {name: w[0] for name, w in self.windows.items()}
        self._memory = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._shared: SlidingWindowCounterRateLimiter | None = None
        self._shared_back_at = 0.0  # time.monotonic() when Redis may be tried again
        self._in_flight: dict[str, int] = {}  # see `enter`
        self._storage: Storage | None = None
        self._redis: RedisStorage | None = None  # the same storage, for admit_together
        self._together: AsyncScript | None = None
        if redis_url:
            self._storage = self._redis = RedisStorage(
                _limits_uri(redis_url),
                implementation="redispy",
                key_prefix=f"{prefix}:limits",
                wrap_exceptions=True,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
            self._shared = SlidingWindowCounterRateLimiter(self._storage)
            # On the storage's own client (its connection pool): no second pool to Redis.
            bridge = self._redis.bridge
            if isinstance(bridge, RedispyBridge):
                client = cast(redis.asyncio.Redis, bridge.get_connection())
                self._together = client.register_script(_ADMIT_TOGETHER)

    def rule(self, name: str) -> RateLimitItem:
        return self.rules[name]

    async def hit(self, name: str, *key: str, cost: int = 1) -> Verdict:
        """Count `cost` against `name` for `key`; `allowed` is False (and nothing is counted)
        when that would go over the limit of any of the rule's windows."""
        windows, ids = self.windows[name], (name, *key)
        if len(windows) == 1:
            item = windows[0]
            if cost > item.amount:
                stats = await self._stats(item, ids)
                return Verdict(False, item.amount, stats.remaining, time.time() + item.get_expiry())
            allowed = await self._run(lambda lim: lim.hit(item, *ids, cost=cost))
            stats = await self._stats(item, ids)
            return Verdict(allowed, item.amount, stats.remaining, stats.reset_time)
        # Several windows: count in none unless every one has room. Each window's hit is
        # atomic, so none overshoots; a hit that loses a race on a later window stays counted
        # in the earlier ones, which errs towards refusing.
        for item in windows:
            if cost > item.amount or not await self._test(item, ids, cost):
                return await self._verdict(name, ids, allowed=False)
        for item in windows:
            if not await self._hit(item, ids, cost):
                return await self._verdict(name, ids, allowed=False)
        return await self._verdict(name, ids, allowed=True)

    async def admit(self, name: str, *key: str) -> Verdict | None:
        """Count one hit, as `hit`, but read the windows' state only when it is refused: None
        when it passed. One Redis round trip instead of two for a single-window rule, for
        the limits every request meets (requests per address)."""
        windows, ids = self.windows[name], (name, *key)
        if len(windows) == 1:
            if await self._hit(windows[0], ids, 1):
                return None
            return await self._verdict(name, ids, allowed=False)
        verdict = await self.hit(name, *key)
        return None if verdict.allowed else verdict

    async def check(self, name: str, *key: str, cost: int = 1) -> Verdict:
        """`hit`, raising RateLimited when over the limit."""
        verdict = await self.hit(name, *key, cost=cost)
        if not verdict.allowed:
            raise self.refusal(name, verdict)
        return verdict

    async def admit_together(self, hits: Sequence[Hit]) -> list[Verdict]:
        """Count every hit, in every window of its rule, or none of them: one Redis round trip
        (one Lua script: limits' sliding-window counter, the same keys and counts as `hit`,
        `peek` and `clear`), or the process's memory as `hit` falls back to it.

        Verdicts in the order of `hits`, each as `hit` would report it (allowed, limit,
        remaining and reset_at of the rule's tightest window), after counting. When a window
        of any hit has no room, nothing is counted for any hit: `allowed` is False for the
        hits whose windows had no room, True for the others (which were not counted either,
        though they would have passed alone). So `all(v.allowed for v in verdicts)` says
        whether the hits were counted, and the first refused verdict names the rule to blame
        (`check_together` raises its refusal)."""
        plan = [(hit, self.windows[hit.rule], (hit.rule, *hit.key)) for hit in hits]
        if not plan:
            return []
        together, storage = self._together, self._redis
        if together is not None and storage is not None and self._shared_ready():
            keys: list[str] = []
            args: list[int] = []
            for hit, windows, ids in plan:
                for item in windows:
                    key = item.key_for(*ids)
                    keys.append(storage.bridge.prefixed_key(storage._previous_window_key(key)))
                    keys.append(storage.bridge.prefixed_key(storage._current_window_key(key)))
                    args += (item.amount, item.get_expiry(), hit.cost)
            try:
                reply = await together(keys, [" ".join(map(str, args))])
            except RedisError as exc:  # as the storage's own calls report it
                self._storage_failed(StorageError(exc))
            except Exception as exc:
                self._storage_failed(exc)
            else:
                return self._together_verdicts(plan, [int(n) for n in reply.split()])
        return await self._together_in_memory(plan)

    async def check_together(self, hits: Sequence[Hit]) -> list[Verdict]:
        """`admit_together`, raising the refusal of the first refused hit's rule."""
        verdicts = await self.admit_together(hits)
        for hit, verdict in zip(hits, verdicts, strict=True):
            if not verdict.allowed:
                raise self.refusal(hit.rule, verdict)
        return verdicts

    def refusal(self, name: str, verdict: Verdict) -> RateLimited:
        """The error for a refused hit, counted in `chirp_rate_limited_total{limit}`."""
        metrics.RATE_LIMITED.labels(name).inc()
        return RateLimited(name, verdict.retry_after)

    async def peek(self, name: str, *key: str) -> Verdict:
        """The rule's state for `key` without counting anything."""
        return await self._verdict(name, (name, *key), allowed=None)

    async def clear(self, name: str, *key: str) -> None:
        ids = (name, *key)
        for item in self.windows[name]:
            await self._clear(item, ids)

    def in_flight_limit(self, kind: str, default: int) -> int:
        return self.in_flight_limits.get(kind, default)

    def enter(self, keys: tuple[str, ...], limit: int) -> bool:
        """Take a place among the at most `limit` calls in flight, in this process, for each
        of `keys`; False (and nothing taken) when one of them is full. For rules that count a
        failure only once it is known: it bounds how many checks can pass the same count at
        once (one burst per process, at most `limit` each)."""
        if any(self._in_flight.get(key, 0) >= limit for key in keys):
            return False
        for key in keys:
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return True

    def leave(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            left = self._in_flight.get(key, 0) - 1
            if left > 0:
                self._in_flight[key] = left
            else:
                self._in_flight.pop(key, None)

    def local_counter(self, name: str) -> LocalCounter:
        """The rule's windows for one key that lives in this process only (a WebSocket
        connection), counted on the key's owner rather than in a storage."""
        return LocalCounter(self.windows[name])

    async def _verdict(self, name: str, ids: tuple[str, ...], *, allowed: bool | None) -> Verdict:
        """The state of every window of a rule: the fewest remaining, and when the fullest
        one has room again. `allowed=None`: whether one more hit would pass."""
        return _tightest(
            [(item, await self._stats(item, ids)) for item in self.windows[name]], allowed
        )

    def _together_verdicts(self, plan: _Plan, reply: list[int]) -> list[Verdict]:
        """The verdicts of `admit_together` from its script's reply."""
        now, at, verdicts = time.time(), 1, []
        for hit, windows, _ in plan:
            stats, refused = [], False
            for item in windows:
                full, previous, previous_ttl, current, current_ttl = reply[at : at + 5]
                at += 5
                refused = refused or full == 1
                # The TTLs in seconds, none below 0, as RedispyBridge.get_sliding_window reads them.
                previous_in, current_in = max(0, previous_ttl) / 1000, max(0, current_ttl) / 1000
                stats.append(
                    (item, _window_stats(item, now, previous, previous_in, current, current_in))
                )
            verdicts.append(_hit_verdict(hit, stats, allowed=not refused, now=now))
        return verdicts

    async def _together_in_memory(self, plan: _Plan) -> list[Verdict]:
        """`admit_together` on the memory limiter: test every window (with what this call
        charges it so far), then count in each. The memory limiter's sliding-window calls
        never wait (they take only uncontended locks), so no other task can take the room
        between the tests and the counts."""
        memory, charged, refused = self._memory, dict[str, int](), []
        for hit, windows, ids in plan:
            full = False
            for item in windows:
                key = item.key_for(*ids)
                charged[key] = total = charged.get(key, 0) + hit.cost
                if total > item.amount or not await memory.test(item, *ids, cost=total):
                    full = True
            refused.append(full)
        if not any(refused):
            for i, (hit, windows, ids) in enumerate(plan):
                for item in windows:
                    if not await memory.hit(item, *ids, cost=hit.cost):
                        refused[i] = True  # cannot happen (see above); errs towards refusing
        verdicts = []
        for (hit, windows, ids), full in zip(plan, refused, strict=True):
            stats = [(item, await memory.get_window_stats(item, *ids)) for item in windows]
            verdicts.append(_hit_verdict(hit, stats, allowed=not full, now=time.time()))
        return verdicts

    async def _stats(self, item: RateLimitItem, ids: tuple[str, ...]) -> WindowStats:
        return await self._run(lambda lim: lim.get_window_stats(item, *ids))

    async def _test(self, item: RateLimitItem, ids: tuple[str, ...], cost: int) -> bool:
        return await self._run(lambda lim: lim.test(item, *ids, cost=cost))

    async def _hit(self, item: RateLimitItem, ids: tuple[str, ...], cost: int) -> bool:
        return await self._run(lambda lim: lim.hit(item, *ids, cost=cost))

    async def _clear(self, item: RateLimitItem, ids: tuple[str, ...]) -> None:
        await self._run(lambda lim: lim.clear(item, *ids))

    async def _run(self, call: Callable[[SlidingWindowCounterRateLimiter], Awaitable[T]]) -> T:
        if self._shared is not None and self._shared_ready():
            try:
                return await call(self._shared)
            except Exception as exc:  # any storage failure: count in memory meanwhile
                self._storage_failed(exc)
        return await call(self._memory)

    def _shared_ready(self) -> bool:
        return time.monotonic() >= self._shared_back_at

    def _storage_failed(self, exc: Exception) -> None:
        metrics.RATE_LIMIT_STORAGE_ERRORS.inc()
        # Not asked again for a while: during an outage each request would otherwise wait for
        # its own failed calls (and write their tracebacks).
        self._shared_back_at = time.monotonic() + STORAGE_RETRY_SECONDS
        log.warning(
            "rate-limit storage failed (%s); counting in process memory for %ss",
            exc,
            STORAGE_RETRY_SECONDS,
            # An outage is one line; anything else (a bug) keeps its traceback.
            exc_info=not isinstance(exc, StorageError),
        )

    async def aclose(self) -> None:
        if self._storage is not None:
            storage = self._storage
            self._storage = None
            # RedisStorage keeps a connection pool; release it with the process.
            close = getattr(getattr(storage, "bridge", None), "storage", None)
            if close is not None and hasattr(close, "aclose"):
                await close.aclose()


# admit_together's hits with their rule's windows and the identifiers `key_for` takes.
_Plan = list[tuple[Hit, tuple[RateLimitItem, ...], tuple[str, ...]]]


def _tightest(stats: list[tuple[RateLimitItem, WindowStats]], allowed: bool | None) -> Verdict:
    """A rule's verdict from its windows' stats: the fewest remaining, and when the fullest
    one has room again. `allowed=None`: whether one more hit would pass."""
    item, tightest = min(stats, key=lambda pair: pair[1].remaining)
    full = [s.reset_time for _, s in stats if s.remaining <= 0]
    reset_at = max(full) if full else tightest.reset_time
    if allowed is None:
        allowed = not full
    return Verdict(allowed, item.amount, tightest.remaining, reset_at)


def _hit_verdict(
    hit: Hit, stats: list[tuple[RateLimitItem, WindowStats]], *, allowed: bool, now: float
) -> Verdict:
    """The verdict `hit` gives, from the windows' stats after counting."""
    item, window = stats[0]
    if len(stats) == 1 and hit.cost > item.amount:  # as `hit` reports a cost over the limit
        return Verdict(False, item.amount, window.remaining, now + item.get_expiry())
    return _tightest(stats, allowed)


def _window_stats(
    item: RateLimitItem,
    now: float,
    previous_count: int,
    previous_expires_in: float,
    current_count: int,
    current_expires_in: float,
) -> WindowStats:
    """limits' SlidingWindowCounterRateLimiter.get_window_stats, from a window's figures."""
    expiry = item.get_expiry()
    weighted = previous_count * previous_expires_in / expiry + current_count
    remaining = max(0, item.amount - math.floor(weighted))
    if not (previous_count or current_count):
        return WindowStats(now, remaining)
    previous_reset_in = current_reset_in = math.inf
    if previous_count:
        previous_reset_in = previous_expires_in % (expiry / previous_count)
    if current_count:
        current_reset_in = current_expires_in % expiry
    return WindowStats(now + min(previous_reset_in, current_reset_in), remaining)


class LocalCounter:
    """The sliding-window counter `limits` keeps, for one key that lives in this process only
    (a WebSocket connection): three numbers per window on the key's owner, where the storage
    would hold a key, a lock and an expiry for every connection."""

    __slots__ = ("_state", "_windows")

    def __init__(self, windows: tuple[RateLimitItem, ...]) -> None:
        self._windows = windows
        # Per window: its number (time // length), the previous window's count, the current's.
        self._state = [(0, 0, 0)] * len(windows)

    def hit(self) -> Verdict:
        """Count one; `allowed` is False (and nothing is counted) when a window is full."""
        now = time.time()
        rolled, free_at, remaining = [], [], []
        for item, state in zip(self._windows, self._state, strict=True):
            at, previous, current = _roll(now, item, *state)
            length = item.get_expiry()
            count = math.floor(previous * (1 - (now % length) / length) + current)
            rolled.append((at, previous, current))
            remaining.append(item.amount - count - 1)
            if count + 1 > item.amount:
                free_at.append(_free_at(item, at, previous, current))
        if free_at:
            self._state = rolled
            return Verdict(False, self._windows[0].amount, 0, max(free_at))
        self._state = [(at, previous, current + 1) for at, previous, current in rolled]
        return Verdict(True, self._windows[0].amount, min(remaining), now)


def _roll(
    now: float, item: RateLimitItem, number: int, previous: int, current: int
) -> tuple[int, int, int]:
    """A window's state at `now`: a new window starts with the last one's count as its
    previous (none if more than one has passed)."""
    at = int(now // item.get_expiry())
    if at == number:
        return number, previous, current
    return at, current if at == number + 1 else 0, 0


def _free_at(item: RateLimitItem, at: int, previous: int, current: int) -> float:
    """When a full window has room for one more hit: once the weighted count of the
    previous window has decayed enough (after the next window starts, if the current one is
    full by itself)."""
    length = item.get_expiry()
    if current + 1 > item.amount:
        # From the next window on, this one's count is the decaying previous one.
        return (at + 1 + 1 - (item.amount - 1) / current) * length
    return (at + 1 - (item.amount - 1 - current) / previous) * length


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
