"""Live fan-out: posts made over HTTP, delivered to many `graphql-transport-ws` subscribers.

Sets up a dedicated PostgreSQL database (created and migrated if missing): S subscriber
accounts `live_s<N>` and P poster accounts `live_p<N>`, each poster followed by exactly
--reach subscribers (subscriber i follows posters j with i in [j*reach, (j+1)*reach) mod S,
so S=10000, P=10, reach=1000 gives every subscriber exactly one followee), and one fresh
login session per account (login_sessions rows inserted directly; removed at the end).
Re-running reuses the accounts and rewrites the follows of the subscribers to the requested
shape; --reset drops and recreates the whole database first.

It starts `chirp serve` itself (`python -m app.cli serve` from this checkout, CHIRP_ENV=
production, random SECRET_KEY, dummy Stripe/SMTP values, REDIS_URL so pub/sub goes through
Redis as in production, pinned to core 0 with `taskset -c 0`; the rest of this process's
environment is passed through, e.g. LIVE_SHARED_DELIVERY=false), or targets a running server
with --url (give --server-pid for its RSS and CPU; its rate limits must allow this many
connections from 127.0.0.1: see SERVER_LIMITS below).

--clients client processes (pinned to core 1) each hold their share of the S subscribers on
asyncio, one WebSocket per subscriber (connection_init with the subscriber's token), opened
at --connect-rate per second overall, each subscribing to `homeTimeline` (--mode home) or
`publicFeed` (--mode public: every post reaches every subscriber). Before measuring, a few
warm-up posts (from the posters that together reach every subscriber) check that every
subscription is live. Then this process posts with `createPost` over HTTP as the posters in
rotation at --rate per second for --duration seconds (open loop: each mutation is sent on
schedule whatever the others do), waits up to --drain seconds for the deliveries still due,
and reports: deliveries expected vs made, commit-to-client latency (client receive time
minus the time the mutation's answer arrived), deliveries per second, posting latency, the
server's RSS (before subscriptions, idle with them, at the end) and CPU (per delivery), each
client process's CPU (a run where the clients used more than ~85% of their core is marked
client-bound: its latencies are the clients' as much as the server's), and subscriptions the
server ended, by close code.

    .venv/bin/python bench/live.py --subscribers 1000 --rate 5 --duration 30
    .venv/bin/python bench/live.py --subscribers 10000 --reach 1000 --rate 5 --duration 30
    .venv/bin/python bench/live.py --subscribers 1000 --mode public --json /tmp/live.json
    LIVE_SHARED_DELIVERY=false .venv/bin/python bench/live.py --subscribers 1000
    .venv/bin/python bench/live.py --url http://127.0.0.1:8000/graphql --server-pid 1234 \\
        --database-url postgresql://postgres@127.0.0.1:5432/chirp   # a running server

Both cores of the machine are used: the server on core 0, the clients and this process on
core 1; PostgreSQL and Redis are not pinned and take CPU from either (with the server busy
on core 0, mostly from core 1: "client core busy" in the report says when core 1 was
saturated, whoever used it). Figures worth knowing when reading a report:
- commit-to-client latency is measured against the moment the createPost answer arrived,
  so it excludes the mutation's own time; a delivery still missing when the drain ends is
  not counted (see delivered vs expected);
- server CPU per delivery is the server's CPU from the first post to the end of the drain
  over the deliveries received by then (the mutations' own CPU included);
- KiB per idle subscription is (RSS with the subscriptions - RSS of the fresh server) / N,
  so at small N it also carries one-off costs (code paths first used, pools filled);
- a subscription the server ends shows up as `complete`/`error` messages, or as a socket
  closed by the server (by close code and reason); `next` messages with `errors` (and no
  post) are counted by error code and are not deliveries.
The limits every client from 127.0.0.1 would hit are raised in the spawned server's
environment (SERVER_LIMITS below; WS_QUEUE_SIZE is not: a slow consumer's 4008 is a result).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import random
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

# Import this checkout's packages even where the editable install is missing or stale.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from load import cpu_seconds, forget_viewers, production_env, stop_process  # bench/load.py

from models.accounts.passwords import make_hasher, new_token, token_digest

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = Subprotocol("graphql-transport-ws")
BENCH_AGENT = "chirp-bench/live"
SUBSCRIBER = "live_s"
POSTER = "live_p"
SELECTION = (
    "{ cursor post { id body createdAt likeCount viewerHasLiked "
    "author { id handle displayName } } }"
)
FIELD = {"home": "homeTimeline", "public": "publicFeed"}
CREATE_POST = (
    "mutation LivePost($i: CreatePostInput!) { createPost(input: $i) { __typename "
    "... on PostPayload { post { id } } } }"
)
# Every client comes from 127.0.0.1: the limits it would hit, raised (app/settings.py).
SERVER_LIMITS = {
    "RATE_LIMIT_WS_CONNECT_IP": "100000000/minute",  # 60/minute
    "RATE_LIMIT_WS_CONNECT_ACCOUNT": "100000000/minute",  # 30/minute
    "RATE_LIMIT_WS_MESSAGES_CONNECTION": "100000000/minute",  # 120/minute
    "RATE_LIMIT_REQUESTS_IP": "100000000/minute",  # 1200/minute
    "RATE_LIMIT_POSTS_ACCOUNT": "100000000/minute",  # 20/minute;300/hour
    "RATE_LIMIT_BUDGET_USER": "1000000000/hour",  # query cost budget per account
    "WS_MAX_OPEN_PER_ADDRESS": "100000000",  # 200 open at once
}
CLIENT_BOUND = 0.85


# ----------------------------------------------------------------------------- utilities


METRICS_TOKEN = secrets.token_urlsafe(24)  # the spawned server's /metrics, read at the end
CONNECT_ATTEMPTS = 6  # a handshake refused or timed out is retried, with backoff


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def pin(core: int | None) -> None:
    if core is not None and core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


def rss_kib(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_by_command(names: tuple[str, ...] = ("postgres", "redis-server")) -> dict[str, float]:
    """CPU seconds used so far by all processes of these names (PostgreSQL's backends,
    Redis): what else the machine did while the server and clients ran."""
    totals = dict.fromkeys(names, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        if name in totals:
            fields = text.rsplit(")", 1)[1].split()
            totals[name] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return totals


def core_ticks() -> Ticks:
    """(busy, total) jiffies of each core, from /proc/stat."""
    ticks = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            numbers = [int(v) for v in values]
            idle = numbers[3] + numbers[4]  # idle + iowait
            ticks[name] = (sum(numbers[:8]) - idle, sum(numbers[:8]))
    return ticks


Ticks = dict[str, tuple[int, int]]


def busy_share(before: Ticks, after: Ticks) -> dict[str, float]:
    shares = {}
    for core, (busy, total) in after.items():
        shares[core] = round((busy - before[core][0]) / max(1, total - before[core][1]), 3)
    return shares


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1)]


def pg_dsn(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql://" + url[len(prefix) :]
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"refusing a non-local database: {url}")
    return url


def ws_url(http_url: str) -> str:
    parts = urlsplit(http_url)
    return urlunsplit(("wss" if parts.scheme == "https" else "ws", *parts[1:]))


# ---------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Shape:
    subscribers: int
    posters: int
    reach: int  # followers of each poster (home mode)

    def followers_of(self, poster: int) -> range | list[int]:
        """Subscriber indexes (0-based) following poster `poster` (0-based)."""
        start = poster * self.reach % self.subscribers
        if start + self.reach <= self.subscribers:
            return range(start, start + self.reach)
        return [(start + k) % self.subscribers for k in range(self.reach)]

    def covering_posters(self) -> int:
        """How many posters, from the first, together reach every subscriber."""
        return min(self.posters, math.ceil(self.subscribers / self.reach))


async def ensure_database(dsn: str, *, reset: bool) -> None:
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    admin = urlunsplit((*parts[:2], "/postgres", *parts[3:]))
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and reset:
            await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    finally:
        await conn.close()


def migrate(env: dict[str, str]) -> None:
    migrated = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"], env=env, cwd=ROOT, capture_output=True
    )
    if migrated.returncode != 0:
        raise SystemExit(f"migrate failed:\n{(migrated.stdout + migrated.stderr).decode()}")


async def ensure_accounts(conn: asyncpg.Connection, prefix: str, count: int, pw: str) -> list[int]:
    """Accounts <prefix>1..<prefix>count, created if missing; their ids in that order."""
    now = datetime.now(UTC)
    handles = [f"{prefix}{n}" for n in range(1, count + 1)]
    have = {
        r["handle_key"]: r["id"]
        for r in await conn.fetch(
            "SELECT id, handle_key FROM accounts WHERE handle_key = ANY($1)", handles
        )
    }
    missing = [h for h in handles if h not in have]
    if missing:
        await conn.executemany(
            "INSERT INTO accounts (handle, handle_key, email, password_hash, display_name, bio, "
            "followers_count, following_count, posts_count, created_at, updated_at) "
            "VALUES ($1, $1, $2, $3, $4, '', 0, 0, 0, $5, $5)",
            [(h, f"{h}@live.bench.example", pw, f"Live {h}", now) for h in missing],
        )
        for r in await conn.fetch(
            "SELECT id, handle_key FROM accounts WHERE handle_key = ANY($1)", missing
        ):
            have[r["handle_key"]] = r["id"]
    return [have[h] for h in handles]


async def prepare_data(dsn: str, shape: Shape) -> tuple[list[str], list[str]]:
    """Accounts and follows of this shape; a fresh session token per subscriber and poster."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM login_sessions WHERE user_agent = $1", BENCH_AGENT)
        pw = make_hasher(time_cost=1, memory_cost=1024).hash(secrets.token_urlsafe(16))
        async with conn.transaction():
            subscribers = await ensure_accounts(conn, SUBSCRIBER, shape.subscribers, pw)
            posters = await ensure_accounts(conn, POSTER, shape.posters, pw)
            wanted = {
                (subscribers[s], posters[p])
                for p in range(shape.posters)
                for s in shape.followers_of(p)
            }
            rows = await conn.fetch(
                "SELECT f.follower_id, f.followee_id FROM follows f JOIN accounts a "
                "ON a.id = f.follower_id WHERE a.handle_key LIKE 'live\\_s%'"
            )
            have = {(r["follower_id"], r["followee_id"]) for r in rows}
            if have != wanted:
                await conn.execute(
                    "DELETE FROM follows f USING accounts a WHERE a.id = f.follower_id "
                    "AND a.handle_key LIKE 'live\\_s%'"
                )
                now = datetime.now(UTC)
                await conn.copy_records_to_table(
                    "follows",
                    records=[(a, b, now) for a, b in sorted(wanted)],
                    columns=["follower_id", "followee_id", "created_at"],
                )
                await conn.execute(
                    "UPDATE accounts a SET "
                    "followers_count = (SELECT count(*) FROM follows WHERE followee_id = a.id), "
                    "following_count = (SELECT count(*) FROM follows WHERE follower_id = a.id) "
                    "WHERE a.handle_key LIKE 'live\\_%'"
                )
                await conn.execute("ANALYZE accounts; ANALYZE follows")
                print(f"follows rewritten: {len(wanted)} ({len(have)} before)")
        tokens = {a: new_token() for a in [*subscribers, *posters]}
        expires = datetime.now(UTC) + timedelta(days=1)
        await conn.copy_records_to_table(
            "login_sessions",
            records=[
                (a, token_digest(t), BENCH_AGENT, "127.0.0.1", datetime.now(UTC), expires)
                for a, t in tokens.items()
            ],
            columns=["account_id", "token_hash", "user_agent", "ip", "created_at", "expires_at"],
        )
        return [tokens[a] for a in subscribers], [tokens[a] for a in posters]
    finally:
        await conn.close()


# -------------------------------------------------------------------------------- server


def server_env(args: argparse.Namespace) -> dict[str, str]:
    return production_env(
        args.database_url,
        DRAIN_SECONDS=os.environ.get("DRAIN_SECONDS", "0"),
        REDIS_URL=args.redis_url,
        METRICS_TOKEN=METRICS_TOKEN,
        **SERVER_LIMITS,
    )


@contextlib.contextmanager
def chirp_server(args: argparse.Namespace, env: dict[str, str]) -> Iterator[int]:
    port = urlsplit(args.graphql_url).port or 80
    log_path = Path(tempfile.gettempdir()) / "chirp-bench-live.log"
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    if args.server_core is not None:
        command = ["taskset", "-c", str(args.server_core), *command]
    with log_path.open("wb") as out:
        # Inherits this process's RLIMIT_NOFILE, raised in main().
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        ready = f"http://127.0.0.1:{port}/readyz"
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(ready, timeout=1).is_success:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"chirp serve did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        print(f"chirp serve pid {process.pid} on port {port} (log: {log_path})")
        yield process.pid
    finally:
        stop_process(process, 40)


# ------------------------------------------------------------------------ client process


@dataclass
class ClientStats:
    """What one client process saw; merged by the parent."""

    opened: int = 0
    connect_failures: Counter[str] = field(default_factory=Counter)
    closed_by_server: Counter[str] = field(default_factory=Counter)
    error_messages: int = 0
    complete_messages: int = 0
    payload_errors: int = 0
    payload_error_codes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def plain(self) -> dict[str, Any]:
        """As plain dicts (dataclasses.asdict would rebuild each Counter from its pairs)."""
        return {
            name: dict(value) if isinstance(value, dict) else value
            for name, value in vars(self).items()
        }

    def example(self, kind: str, text: str) -> None:
        """Keep the first two examples of each kind of failure."""
        kept = self.examples.setdefault(kind, [])
        if len(kept) < 2:
            kept.append(text[:300])


class ClientProcess:
    """Many subscribers on one asyncio loop. Driven by commands over a pipe."""

    def __init__(self, pipe: Connection, url: str, field_name: str, tokens: list[str]) -> None:
        self.pipe = pipe
        self.url = url
        self.tokens = tokens
        self.query = f"subscription Live {{ {field_name} {SELECTION} }}"
        self.field_name = field_name
        self.stats = ClientStats()
        self.sockets: list[ClientConnection] = []
        self.closing = False
        # Deliveries: subscriber index, post id, receive time (time.time()).
        self.d_sub = array("i")
        self.d_post: list[str] = []
        self.d_time = array("d")
        self.warm: set[str] = set()
        self.counted = 0  # deliveries of posts other than warm-up ones

    async def subscriber(self, index: int, done: asyncio.Future[None]) -> None:
        """Connect and subscribe; a refused or timed-out handshake is retried with backoff
        and jitter (up to CONNECT_ATTEMPTS), as a client reconnecting after a restart."""
        for attempt in range(CONNECT_ATTEMPTS):
            last = attempt == CONNECT_ATTEMPTS - 1
            if await self._subscribe_once(index, done, last=last):
                return
            self.stats.connect_failures["retried"] += 1
            await asyncio.sleep(min(30.0, 2.0**attempt) * (0.5 + random.random()))

    async def _subscribe_once(self, index: int, done: asyncio.Future[None], *, last: bool) -> bool:
        """One attempt; True once done (subscribed and then closed, or failed for good)."""
        try:
            ws = await connect(
                self.url,
                subprotocols=[PROTOCOL],
                compression=None,
                open_timeout=60,
                max_queue=None,
                ping_interval=None,
            )
            await ws.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"authorization": f"Bearer {self.tokens[index]}"},
                    }
                )
            )
            ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no connection_ack: {ack}")
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": self.query, "operationName": "Live"},
                    }
                )
            )
        except Exception as exc:
            if isinstance(exc, ConnectionClosed):
                code = exc.rcvd.code if exc.rcvd else 1006
                kind = f"closed {code} {exc.rcvd.reason if exc.rcvd else ''}"
            elif isinstance(exc, InvalidStatus):
                kind = f"HTTP {exc.response.status_code}"
            else:
                kind = type(exc).__name__
                self.stats.example("connect", repr(exc))
            if not last:
                return False
            self.stats.connect_failures[kind] += 1
            done.set_result(None)
            return True
        self.sockets.append(ws)
        self.stats.opened += 1
        done.set_result(None)
        await self.receive(index, ws)
        return True

    async def receive(self, index: int, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "next":
                    payload = message.get("payload") or {}
                    if payload.get("errors"):
                        self.stats.payload_errors += 1
                        for error in payload["errors"]:
                            code = (error.get("extensions") or {}).get("code", "?")
                            self.stats.payload_error_codes[code] += 1
                        self.stats.example("next with errors", str(payload["errors"]))
                    data = payload.get("data") or {}
                    event = data.get(self.field_name) or {}
                    post = (event.get("post") or {}).get("id")
                    if post is None:
                        continue
                    self.d_sub.append(index)
                    self.d_post.append(post)
                    self.d_time.append(now)
                    if post not in self.warm:
                        self.counted += 1
                elif kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind == "error":
                    self.stats.error_messages += 1
                    self.stats.example("error message", str(message.get("payload")))
                elif kind == "complete":
                    self.stats.complete_messages += 1
        except ConnectionClosed:
            pass
        if not self.closing:
            rcvd = ws.close_code if ws.close_code is not None else 1006
            self.stats.closed_by_server[f"{rcvd} {ws.close_reason or ''}".strip()] += 1

    async def open_all(self, rate: float) -> None:
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        pending: list[asyncio.Future[None]] = []
        self.tasks: list[asyncio.Task[None]] = []
        for i in range(len(self.tokens)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            done: asyncio.Future[None] = loop.create_future()
            pending.append(done)
            self.tasks.append(asyncio.create_task(self.subscriber(i, done)))
        await asyncio.gather(*pending)

    async def command(self) -> tuple[Any, ...]:
        return await asyncio.to_thread(self.pipe.recv)

    async def run(self) -> None:
        while True:
            name, *rest = await self.command()
            if name == "open":
                await self.open_all(rest[0])
                self.pipe.send(("opened", self.stats.opened, dict(self.stats.connect_failures)))
            elif name == "warm":
                self.warm = set(rest[0])
                self.counted = sum(1 for p in self.d_post if p not in self.warm)
                got = {s for s, p in zip(self.d_sub, self.d_post, strict=True) if p in self.warm}
                self.pipe.send(("warm", len(got), len(self.sockets) - self.closed_count()))
            elif name == "count":
                self.pipe.send(("count", self.counted))
            elif name == "finish":
                post_times, window = rest
                self.pipe.send(("result", self.results(post_times, window)))
                await self.close_all()
                return

    def closed_count(self) -> int:
        return sum(self.stats.closed_by_server.values())

    def results(self, post_times: dict[str, float], window: tuple[float, float]) -> dict[str, Any]:
        latencies = array("d")
        seen: set[tuple[int, str]] = set()
        duplicates = in_window = other = 0
        for sub, post, when in zip(self.d_sub, self.d_post, self.d_time, strict=True):
            answered = post_times.get(post)
            if answered is None:
                other += post not in self.warm
                continue
            if (sub, post) in seen:
                duplicates += 1
                continue
            seen.add((sub, post))
            latencies.append(when - answered)
            in_window += window[0] <= when <= window[1]
        return {
            "latencies": latencies,
            "in_window": in_window,
            "duplicates": duplicates,
            "unknown_posts": other,
            "stats": self.stats.plain(),
        }

    async def close_all(self) -> None:
        self.closing = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(15):
                await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


def client_main(
    pipe: Connection, url: str, field_name: str, tokens: list[str], core: int | None
) -> None:
    raise_nofile()
    pin(core)
    asyncio.run(ClientProcess(pipe, url, field_name, tokens).run())


class Clients:
    """The parent's handle on the client processes."""

    def __init__(self, args: argparse.Namespace, tokens: list[str]) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        count = max(1, min(args.clients, len(tokens)))
        for k in range(count):
            mine, theirs = context.Pipe()
            share = tokens[k::count]
            process = context.Process(
                target=client_main,
                args=(theirs, ws_url(args.graphql_url), FIELD[args.mode], share, args.client_core),
                daemon=True,
            )
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)
        self.shares = [len(tokens[k::count]) for k in range(count)]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    async def ask(self, message: tuple[Any, ...], timeout: float = 300) -> list[tuple[Any, ...]]:
        for pipe in self.pipes:
            pipe.send(message)

        def answer(pipe: Connection) -> tuple[Any, ...]:
            if not pipe.poll(timeout):
                raise TimeoutError(f"a client process did not answer {message[0]!r}")
            reply: tuple[Any, ...] = pipe.recv()
            return reply

        return list(await asyncio.gather(*(asyncio.to_thread(answer, p) for p in self.pipes)))

    def stop(self) -> None:
        for process in self.processes:
            process.join(timeout=20)
            if process.is_alive():
                process.kill()


# ------------------------------------------------------------------------------- posting


@dataclass
class PostRecord:
    post_id: str | None
    poster: int
    answered: float  # time.time() when the answer arrived
    latency: float  # seconds
    error: str | None = None


async def create_post(
    client: httpx.AsyncClient, url: str, token: str, poster: int, body: str
) -> PostRecord:
    sent = time.perf_counter()
    try:
        response = await client.post(
            url,
            json={
                "query": CREATE_POST,
                "operationName": "LivePost",
                "variables": {"i": {"body": body}},
            },
            headers={"authorization": f"Bearer {token}"},
        )
        answered = time.time()
        latency = time.perf_counter() - sent
        try:
            document = response.json()
        except ValueError:
            error = f"HTTP {response.status_code} (not JSON): {response.text[:200]}"
            return PostRecord(None, poster, answered, latency, error)
        result = (document.get("data") or {}).get("createPost") or {}
        if response.status_code != 200 or document.get("errors") or "post" not in result:
            error = f"HTTP {response.status_code}: {response.text[:200]}"
            return PostRecord(None, poster, answered, latency, error)
        return PostRecord(result["post"]["id"], poster, answered, latency)
    except Exception as exc:
        return PostRecord(None, poster, time.time(), time.perf_counter() - sent, repr(exc))


async def post_at_rate(
    url: str, tokens: list[str], *, rate: float, duration: float
) -> list[PostRecord]:
    """Open loop: post i is sent at start + i/rate, by poster i mod P."""
    count = max(1, round(rate * duration))
    async with httpx.AsyncClient(timeout=120) as client:
        start = time.monotonic()
        tasks = []
        for i in range(count):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            poster = i % len(tokens)
            body = f"live bench post {i} from poster {poster} at {time.time():.3f}"
            posting = create_post(client, url, tokens[poster], poster, body)
            tasks.append(asyncio.create_task(posting))
        return list(await asyncio.gather(*tasks))


# ------------------------------------------------------------------------------- the run


@dataclass
class Report:
    subscribers: int
    mode: str
    posters: int
    reach: int
    clients: int
    subscribed: int
    subscribe_seconds: float
    server_cpu_ms_per_subscribe: float | None
    live_before_posting: int
    connect_failures: dict[str, int]
    rate: float
    duration: float
    posts_made: int
    post_errors: int
    expected_deliveries: int
    delivered: int
    delivered_in_window: int
    duplicates: int
    window_seconds: float
    drain_seconds: float
    deliveries_per_second: float
    latency_ms: dict[str, float | None]
    posting_latency_ms: dict[str, float | None]
    rss_kib: dict[str, int | None]
    kib_per_subscription: float | None
    server_cpu_seconds_window: float | None
    server_cpu_seconds_total: float | None
    server_cpu_ms_per_delivery: float | None
    client_cpu_share: list[float]
    core_busy: dict[str, float]
    client_bound: bool
    client_core_busy: bool
    machine_noisy: bool
    other_cpu_seconds_window: dict[str, float]
    closed_by_server: dict[str, int]
    error_messages: int
    complete_messages: int
    payload_errors: int
    payload_error_codes: dict[str, int]
    examples: dict[str, list[str]]
    server_env: dict[str, str]
    server_metrics: dict[str, float]


SERIES = {
    "live reads": r"^chirp_live_reads_total (\S+)$",
    "live read subscribers": r"^chirp_live_read_viewers_sum (\S+)$",
    "full GCs": r'^chirp_gc_pause_seconds_count\{generation="2"\} (\S+)$',
    "full GC s": r'^chirp_gc_pause_seconds_sum\{generation="2"\} (\S+)$',
    "GCs >= 0.1 s": None,
}


async def scrape(graphql_url: str) -> dict[str, float]:
    """Counters of the server's own, from /metrics (the spawned server's token; a server
    started elsewhere may refuse): shared reads, and garbage-collection pauses since start."""
    url = graphql_url.rsplit("/graphql", 1)[0] + "/metrics"
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.get(url, headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    except httpx.HTTPError:
        return {}
    if response.status_code != 200:
        return {}
    found: dict[str, float] = {}
    for name, pattern in SERIES.items():
        if pattern is None:
            continue
        match = re.search(pattern, response.text, re.M)
        if match:
            found[name] = float(match.group(1))
    under = re.search(
        r'^chirp_gc_pause_seconds_bucket\{generation="2",le="0.1"\} (\S+)$', response.text, re.M
    )
    if under and "full GCs" in found:
        found["GCs >= 0.1 s"] = found["full GCs"] - float(under.group(1))
    return found


def ms(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100)):
        value = percentile(ordered, p)
        out[name] = None if value is None else round(value * 1000, 1)
    return out


async def measure(args: argparse.Namespace, shape: Shape, pid: int | None, dsn: str) -> Report:
    subscriber_tokens, poster_tokens = await prepare_data(dsn, shape)
    reach = shape.subscribers if args.mode == "public" else shape.reach
    print(
        f"{shape.subscribers} subscribers ({args.mode}), {shape.posters} posters, reach "
        f"{reach} per post, {args.clients} client processes"
    )
    rss_start = rss_kib(pid)
    clients = Clients(args, subscriber_tokens)
    try:
        return await drive(args, shape, pid, clients, poster_tokens, reach, rss_start)
    finally:
        clients.stop()
        await forget_viewers(dsn, BENCH_AGENT)


async def drive(
    args: argparse.Namespace,
    shape: Shape,
    pid: int | None,
    clients: Clients,
    poster_tokens: list[str],
    reach: int,
    rss_start: int | None,
) -> Report:
    n = shape.subscribers
    opening = time.monotonic()
    opening_cpu = cpu_seconds(pid)
    per_process = args.connect_rate / len(clients.pipes)
    answers = await clients.ask(("open", per_process), timeout=n / args.connect_rate + 300)
    subscribed = sum(a[1] for a in answers)
    failures: Counter[str] = Counter()
    for a in answers:
        failures.update(a[2])
    opened_in = time.monotonic() - opening
    opened_cpu = cpu_seconds(pid)
    subscribe_cpu_ms = None
    if opening_cpu is not None and opened_cpu is not None and subscribed:
        subscribe_cpu_ms = round((opened_cpu - opening_cpu) / subscribed * 1000, 2)
    print(
        f"opened {subscribed}/{n} subscriptions in {opened_in:.1f}s"
        + (f"; failures: {dict(failures)}" if failures else "")
    )
    await asyncio.sleep(args.settle)
    rss_idle = min(filter(None, [rss_kib(pid) for _ in range(3)]), default=None)

    # Warm-up: posts from the posters that together reach everyone; every subscriber must
    # receive at least one before the measured posts start.
    warm_posters = 1 if args.mode == "public" else shape.covering_posters()
    async with httpx.AsyncClient(timeout=120) as http:
        warm = await asyncio.gather(
            *(
                create_post(http, args.graphql_url, poster_tokens[p], p, f"live warm-up {p}")
                for p in range(warm_posters)
            )
        )
    warm_ids = [w.post_id for w in warm if w.post_id]
    if len(warm_ids) != warm_posters:
        raise SystemExit(f"warm-up posts failed: {[w.error for w in warm if w.error]}")
    deadline = time.monotonic() + args.warmup_timeout
    live = 0
    while True:
        answers = await clients.ask(("warm", warm_ids))
        live = sum(a[1] for a in answers)
        if live >= subscribed or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    print(f"warm-up: {live}/{subscribed} subscribers received a warm-up post")
    await asyncio.sleep(1.0)

    # The posting window.
    client_cpu_0 = [cpu_seconds(p) or 0.0 for p in clients.pids]
    own_cpu_0 = time.process_time()
    server_cpu_0 = cpu_seconds(pid)
    cores_0 = core_ticks()
    others_0 = cpu_by_command()
    before_window = await scrape(args.graphql_url)
    window_start = time.time()
    posts = await post_at_rate(
        args.graphql_url, poster_tokens, rate=args.rate, duration=args.duration
    )
    window_end = time.time()
    window = window_end - window_start
    server_cpu_1 = cpu_seconds(pid)
    client_cpu_1 = [cpu_seconds(p) or 0.0 for p in clients.pids]
    own_cpu = time.process_time() - own_cpu_0
    cores_1 = core_ticks()
    others_1 = cpu_by_command()
    made = [p for p in posts if p.post_id]
    expected = len(made) * reach

    # Drain: until every delivery due has arrived, or --drain seconds.
    drain_start = time.monotonic()
    while time.monotonic() - drain_start < args.drain:
        counted = sum(a[1] for a in await clients.ask(("count",)))
        if counted >= expected:
            break
        await asyncio.sleep(0.25)
    drained = time.monotonic() - drain_start
    server_cpu_2 = cpu_seconds(pid)
    rss_end = rss_kib(pid)
    server_metrics = await scrape(args.graphql_url)
    # The posting window and drain alone, beside the whole run's figures.
    for name in list(server_metrics):
        if name in before_window:
            server_metrics[f"{name} (posting)"] = round(
                server_metrics[name] - before_window[name], 3
            )

    post_times = {p.post_id: p.answered for p in made if p.post_id}
    results = [a[1] for a in await clients.ask(("finish", post_times, (window_start, window_end)))]
    latencies: list[float] = []
    stats = ClientStats()
    for r in results:
        latencies.extend(r["latencies"])
        s = r["stats"]
        stats.closed_by_server.update(s["closed_by_server"])
        stats.error_messages += s["error_messages"]
        stats.complete_messages += s["complete_messages"]
        stats.payload_errors += s["payload_errors"]
        stats.payload_error_codes.update(s["payload_error_codes"])
        for kind, texts in s["examples"].items():
            for text in texts:
                stats.example(kind, text)
    for p in posts:
        if p.error:
            stats.example("createPost", p.error)
    delivered = len(latencies)
    client_share = [
        round((b - a) / window, 3) for a, b in zip(client_cpu_0, client_cpu_1, strict=True)
    ]
    cores = busy_share(cores_0, cores_1)
    # CPU the machine spent in the window on anything not accounted for above (another
    # job on the machine shows here; so does kernel work on no process's behalf).
    busy = sum(cores_1[c][0] - cores_0[c][0] for c in cores_1) / os.sysconf("SC_CLK_TCK")
    others = {k: round(others_1[k] - others_0[k], 2) for k in others_1}
    known = (
        (server_cpu_1 - server_cpu_0 if server_cpu_0 and server_cpu_1 else 0.0)
        + sum(b - a for a, b in zip(client_cpu_0, client_cpu_1, strict=True))
        + own_cpu
        + sum(others.values())
    )
    others["this process"] = round(own_cpu, 2)
    others["unaccounted"] = round(busy - known, 2)
    # The client processes share one core (--client-core): their sum is what counts.
    client_bound = sum(client_share) > CLIENT_BOUND or max(client_share, default=0) > CLIENT_BOUND
    client_core_busy = args.client_core is not None and (
        cores.get(f"cpu{args.client_core}", 0) > CLIENT_BOUND
    )
    cpu_window = cpu_total = None
    if server_cpu_0 is not None and server_cpu_1 is not None and server_cpu_2 is not None:
        cpu_window, cpu_total = server_cpu_1 - server_cpu_0, server_cpu_2 - server_cpu_0
    return Report(
        subscribers=n,
        mode=args.mode,
        posters=shape.posters,
        reach=reach,
        clients=len(clients.pipes),
        subscribed=subscribed,
        subscribe_seconds=round(opened_in, 2),
        server_cpu_ms_per_subscribe=subscribe_cpu_ms,
        live_before_posting=live,
        connect_failures=dict(failures),
        rate=args.rate,
        duration=args.duration,
        posts_made=len(made),
        post_errors=len(posts) - len(made),
        expected_deliveries=expected,
        delivered=delivered,
        delivered_in_window=sum(r["in_window"] for r in results),
        duplicates=sum(r["duplicates"] for r in results),
        window_seconds=round(window, 2),
        drain_seconds=round(drained, 2),
        deliveries_per_second=round(sum(r["in_window"] for r in results) / window, 1),
        latency_ms=ms(latencies),
        posting_latency_ms=ms([p.latency for p in posts]),
        rss_kib={"start": rss_start, "idle": rss_idle, "end": rss_end},
        kib_per_subscription=(
            None
            if rss_start is None or rss_idle is None or not subscribed
            else round((rss_idle - rss_start) / subscribed, 1)
        ),
        server_cpu_seconds_window=None if cpu_window is None else round(cpu_window, 2),
        server_cpu_seconds_total=None if cpu_total is None else round(cpu_total, 2),
        server_cpu_ms_per_delivery=(
            None if cpu_total is None or not delivered else round(cpu_total / delivered * 1000, 3)
        ),
        client_cpu_share=client_share,
        core_busy=cores,
        client_bound=client_bound,
        client_core_busy=client_core_busy,
        machine_noisy=others["unaccounted"] > 0.1 * window,
        other_cpu_seconds_window=others,
        closed_by_server=dict(stats.closed_by_server),
        error_messages=stats.error_messages,
        complete_messages=stats.complete_messages,
        payload_errors=stats.payload_errors,
        payload_error_codes=dict(stats.payload_error_codes),
        examples=stats.examples,
        server_env={k: os.environ[k] for k in sorted(os.environ) if k.startswith("LIVE_")},
        server_metrics=server_metrics,
    )


def show(r: Report) -> None:
    def f(value: float | int | None, unit: str = "") -> str:
        return "-" if value is None else f"{value}{unit}"

    lat, post = r.latency_ms, r.posting_latency_ms
    rss = r.rss_kib
    live, cpu_window = r.live_before_posting, r.server_cpu_seconds_window
    errors, bad = r.error_messages, r.payload_errors
    mib = {k: None if v is None else round(v / 1024, 1) for k, v in rss.items()}
    rows = [
        ("subscribers (subscribed / live)", f"{r.subscribers} ({r.subscribed} / {live})"),
        (
            "subscribing: s, server CPU ms each",
            f"{r.subscribe_seconds}, {f(r.server_cpu_ms_per_subscribe)}",
        ),
        ("mode, posters, reach per post", f"{r.mode}, {r.posters}, {r.reach}"),
        (
            "posts made (failed)",
            f"{r.posts_made} ({r.post_errors}) at {r.rate}/s over {r.duration}s;"
            f" window {r.window_seconds}s (to the last answer)",
        ),
        ("deliveries expected", r.expected_deliveries),
        (
            "delivered (in window / + drain)",
            f"{r.delivered_in_window} / {r.delivered}"
            f" ({100 * r.delivered / max(1, r.expected_deliveries):.1f}%,"
            f" drain {r.drain_seconds}s)",
        ),
        ("duplicates", r.duplicates),
        ("deliveries/s in window", r.deliveries_per_second),
        (
            "commit->client ms p50/p90/p99/max",
            f"{f(lat['p50'])} / {f(lat['p90'])} / {f(lat['p99'])} / {f(lat['max'])}",
        ),
        ("createPost ms p50/p99/max", f"{f(post['p50'])} / {f(post['p99'])} / {f(post['max'])}"),
        ("server RSS MiB start/idle/end", " / ".join(f(mib[k]) for k in ("start", "idle", "end"))),
        ("KiB per idle subscription", f(r.kib_per_subscription)),
        ("server CPU s window (+drain)", f"{f(cpu_window)} ({f(r.server_cpu_seconds_total)})"),
        ("server CPU ms per delivery", f(r.server_cpu_ms_per_delivery)),
        ("client CPU share per process", " ".join(f"{c:.2f}" for c in r.client_cpu_share)),
        (
            "other CPU s in window",
            " ".join(f"{k} {v}" for k, v in r.other_cpu_seconds_window.items()),
        ),
        ("cores busy in window", " ".join(f"{k} {v:.2f}" for k, v in r.core_busy.items())),
        (
            "machine quiet",
            "NO: other processes used over 10% of a core (see unaccounted)"
            if r.machine_noisy
            else "yes",
        ),
        ("client-bound", "YES: latencies include client delay" if r.client_bound else "no"),
        (
            "client core busy (> 85%)",
            "yes: with other processes (PostgreSQL?), the clients may wait for CPU"
            if r.client_core_busy
            else "no",
        ),
        ("closed by server (code reason)", r.closed_by_server or "none"),
        ("server metrics (whole run)", r.server_metrics or "not readable"),
        ("connect failures", r.connect_failures or "none"),
        ("subscriptions ended: complete / error", f"{r.complete_messages} / {errors}"),
        ("`next` with errors (by code)", f"{bad} {r.payload_error_codes or ''}"),
    ]
    if r.server_env:
        rows.append(("LIVE_* environment", r.server_env))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    for kind, texts in r.examples.items():
        for text in texts:
            print(f"  ! {kind}: {text}")


def main() -> None:
    summary, _, rest = (__doc__ or "").partition("\n\n")
    parser = argparse.ArgumentParser(
        description=summary, epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--posters", type=int, default=10)
    parser.add_argument("--reach", type=int, default=1000, help="followers per poster (home)")
    parser.add_argument("--mode", choices=sorted(FIELD), default="home")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--connect-rate", type=float, default=500, help="connections/s overall")
    parser.add_argument("--rate", type=float, default=5, help="posts per second")
    parser.add_argument("--duration", type=float, default=30, help="seconds of posting")
    parser.add_argument("--drain", type=float, default=10, help="seconds to wait for stragglers")
    parser.add_argument("--settle", type=float, default=2, help="seconds after subscribing")
    parser.add_argument("--warmup-timeout", type=float, default=120)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/chirp_live")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--reset", action="store_true", help="drop and recreate the database")
    parser.add_argument("--port", type=int, default=8020, help="of the spawned server")
    parser.add_argument("--url", help="a running server's /graphql URL (no spawn)")
    parser.add_argument("--server-pid", type=int, help="with --url: for its RSS and CPU")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if args.server_core < 0:
        args.server_core = None
    if args.client_core < 0:
        args.client_core = None
    args.graphql_url = args.url or f"http://127.0.0.1:{args.port}/graphql"
    if urlsplit(args.graphql_url).hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("refusing a non-local target")
    reach = min(args.reach, args.subscribers)
    if reach != args.reach:
        print(f"--reach {args.reach} > --subscribers: each poster reaches all {reach}")
    shape = Shape(args.subscribers, args.posters, reach)
    nofile = raise_nofile()
    if nofile < args.subscribers + 1000:
        print(f"warning: RLIMIT_NOFILE {nofile} is low for {args.subscribers} sockets")
    pin(args.client_core)  # this process posts and reads the clients' results
    dsn = pg_dsn(args.database_url)
    env = server_env(args)
    asyncio.run(ensure_database(dsn, reset=args.reset))
    migrate(env)
    if args.url:
        report = asyncio.run(measure(args, shape, args.server_pid, dsn))
    else:
        with chirp_server(args, env) as pid:
            report = asyncio.run(measure(args, shape, pid, dsn))
    show(report)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
