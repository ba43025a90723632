"""Load test: Chirp's GraphQL home timeline against the plain endpoint (bench/plain.py).

Mints one session token per chosen viewer (login_sessions rows inserted directly, token hash
as in models/accounts/passwords.py), checks that both servers return the same document for
each viewer, then fires the same home-timeline page at each target with a fixed number of
concurrent clients (asyncio + httpx, keep-alive), bounded by --requests and --duration, and
prints throughput, latency percentiles, CPU time per request (each server's, from /proc, and
this client's), new PostgreSQL sessions per 100 requests (pg_stat_database.sessions: a pool
that churns connections shows here) and the GraphQL-to-plain ratios. Targets must be on
127.0.0.1. Rounds alternate the two targets, to spread other load on the machine over both.

With --spawn it starts both servers itself (`python -m app.cli serve` from this checkout, i.e.
`chirp serve`, with CHIRP_ENV=production and a random SECRET_KEY, and bench/plain.py; uvicorn,
one worker each, on this machine):

    .venv/bin/python bench/load.py --spawn \
        --database-url postgresql://postgres@127.0.0.1:5432/chirp_bench
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

# Import this checkout's packages even where the editable install is missing or stale.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.accounts.passwords import new_token, token_digest

ROOT = Path(__file__).resolve().parent.parent
BENCH_AGENT = "chirp-bench/load"
HOME_QUERY = """
query HomeTimeline($first: Int!, $after: String) {
  homeTimeline(first: $first, after: $after) {
    edges {
      cursor
      node {
        id
        body
        createdAt
        likeCount
        replyCount
        repostCount
        viewerHasLiked
        author { handle displayName }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def local_only(url: str) -> str:
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"refusing a non-local target: {url}")
    return url


def pg_dsn(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql://" + url[len(prefix) :]
    local_only(url)
    return url


@dataclass(frozen=True)
class Viewer:
    id: int
    token: str
    following: int


async def mint_viewers(dsn: str, count: int, seed: int) -> list[Viewer]:
    """The 10 accounts following the most, plus random others; one fresh session each."""
    conn = await asyncpg.connect(dsn)
    try:
        heavy = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM accounts ORDER BY following_count DESC, id LIMIT $1",
                min(10, count),
            )
        ]
        everyone = [r["id"] for r in await conn.fetch("SELECT id FROM accounts ORDER BY id")]
        rng = random.Random(seed)
        others = [a for a in everyone if a not in set(heavy)]
        chosen = heavy + rng.sample(others, min(len(others), count - len(heavy)))
        following = {
            r["id"]: r["following_count"]
            for r in await conn.fetch(
                "SELECT id, following_count FROM accounts WHERE id = ANY($1)", chosen
            )
        }
        viewers = [Viewer(a, new_token(), following[a]) for a in chosen]
        expires = datetime.now(UTC) + timedelta(days=1)
        await conn.executemany(
            "INSERT INTO login_sessions (account_id, token_hash, user_agent, ip, created_at, "
            "expires_at) VALUES ($1, $2, $3, '127.0.0.1', now(), $4)",
            [(v.id, token_digest(v.token), BENCH_AGENT, expires) for v in viewers],
        )
        return viewers
    finally:
        await conn.close()


async def forget_viewers(dsn: str, agent: str = BENCH_AGENT) -> None:
    """Delete the sessions a benchmark minted (marked by their user agent)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM login_sessions WHERE user_agent = $1", agent)
    finally:
        await conn.close()


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment `chirp serve` starts with in production mode for a benchmark: this
    one's, the database, a random SECRET_KEY, and the payment and mail settings production
    requires (placeholders: nothing a benchmark does pays or mails); then `extra`."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "CHIRP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
        "STRIPE_API_KEY": "sk_test_chirp_bench",
        "STRIPE_WEBHOOK_SECRET": "whsec_chirp_bench_" + secrets.token_hex(8),
        "SMTP_HOST": "127.0.0.1",
        **extra,
    }


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM (a draining server finishes), then SIGKILL after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ------------------------------------------------------------------------------- requests


class Target:
    name: str

    def request(self, client: httpx.AsyncClient, viewer: Viewer) -> Any:
        raise NotImplementedError

    @staticmethod
    def document(response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            raise RuntimeError(f"errors: {body['errors']}")
        return body


class GraphQLTarget(Target):
    name = "graphql"

    def __init__(self, url: str, first: int) -> None:
        self.url = local_only(url)
        self.payload = json.dumps(
            {"query": HOME_QUERY, "operationName": "HomeTimeline", "variables": {"first": first}}
        ).encode()

    def request(self, client: httpx.AsyncClient, viewer: Viewer) -> Any:
        return client.post(
            self.url,
            content=self.payload,
            headers={
                "authorization": f"Bearer {viewer.token}",
                "content-type": "application/json",
            },
        )


class PlainTarget(Target):
    name = "plain"

    def __init__(self, url: str, first: int, *, auth: bool) -> None:
        self.url = local_only(url)
        self.first = first
        self.auth = auth

    def request(self, client: httpx.AsyncClient, viewer: Viewer) -> Any:
        headers = {"authorization": f"Bearer {viewer.token}"} if self.auth else {}
        return client.get(
            self.url, params={"viewer": viewer.id, "first": self.first}, headers=headers
        )


@dataclass
class Result:
    target: str
    completed: int
    errors: int
    elapsed: float
    latencies: list[float]
    cpu_seconds: float | None
    client_cpu_seconds: float
    sessions: int

    @property
    def throughput(self) -> float:
        return self.completed / self.elapsed

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.cpu_seconds is None or not self.completed:
            return None
        return self.cpu_seconds / self.completed * 1000

    @property
    def client_ms_per_request(self) -> float:
        return self.client_cpu_seconds / max(1, self.completed) * 1000

    @property
    def sessions_per_100(self) -> float:
        return self.sessions / max(1, self.completed) * 100


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process (and its reaped children) from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


async def pg_sessions(dsn: str) -> int:
    """Sessions ever established to the database (pg_stat_database.sessions, PostgreSQL 14+;
    counted when a session ends, so a new connection that is still open is not yet in it)."""
    conn = await asyncpg.connect(dsn)
    try:
        value = await conn.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return int(value or 0)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def run(
    target: Target,
    viewers: list[Viewer],
    *,
    concurrency: int,
    requests: int,
    duration: float,
    pid: int | None,
    dsn: str,
) -> Result:
    sessions_before = await pg_sessions(dsn)
    latencies: list[float] = []
    errors = 0
    issued = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        start = time.perf_counter()
        deadline = start + duration
        cpu_before = cpu_seconds(pid)
        client_before = time.process_time()

        async def worker() -> None:
            nonlocal issued, errors
            while issued < requests and time.perf_counter() < deadline:
                viewer = viewers[issued % len(viewers)]
                issued += 1
                sent = time.perf_counter()
                try:
                    Target.document(await target.request(client, viewer))
                except Exception as exc:
                    errors += 1
                    if errors <= 3:
                        print(f"  {target.name} error: {exc}", file=sys.stderr)
                    continue
                latencies.append(time.perf_counter() - sent)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        cpu_after = cpu_seconds(pid)
        client = time.process_time() - client_before
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    sessions = await pg_sessions(dsn) - sessions_before
    return Result(target.name, len(latencies), errors, elapsed, latencies, cpu, client, sessions)


async def check_same_documents(
    graphql: GraphQLTarget, plain: PlainTarget, viewers: list[Viewer]
) -> None:
    async with httpx.AsyncClient(timeout=30.0) as client:
        for viewer in viewers[:5]:
            a = Target.document(await graphql.request(client, viewer))
            b = Target.document(await plain.request(client, viewer))
            if a != b:
                raise SystemExit(f"the two targets disagree for viewer {viewer.id}")
            edges = a["data"]["homeTimeline"]["edges"]
            liked = sum(e["node"]["viewerHasLiked"] for e in edges)
            print(f"  viewer {viewer.id}: identical documents ({len(edges)} posts, {liked} liked)")


# -------------------------------------------------------------------------------- servers


@contextlib.contextmanager
def spawned_servers(
    database_url: str,
    graphql_port: int,
    plain_port: int,
    *,
    plain_lean: bool = False,
    db_pool_size: int | None = None,
) -> Iterator[list[int]]:
    env = production_env(
        database_url,
        PORT=str(graphql_port),
        # Every request comes from this one address.
        RATE_LIMIT_REQUESTS_IP="100000000/minute",
    )
    if db_pool_size is not None:
        env["DB_POOL_SIZE"] = str(db_pool_size)  # Chirp's setting; plain.py reads it too
    logs = Path(tempfile.gettempdir())
    commands = [
        [*chirp_command(), "serve", "--port", str(graphql_port)],
        [sys.executable, str(ROOT / "bench/plain.py"), "--port", str(plain_port)]
        + (["--lean"] if plain_lean else []),
    ]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for command, name in zip(commands, ("chirp", "plain"), strict=True):
            with (logs / f"chirp-bench-{name}.log").open("wb") as out:
                processes.append(
                    subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
                )
        for port in (graphql_port, plain_port):
            wait_for_port(port)
        yield [p.pid for p in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def chirp_command() -> list[str]:
    """`chirp` as `python -m app.cli`, run with cwd=ROOT: always this checkout's code, never a
    stale installed copy."""
    return [sys.executable, "-m", "app.cli"]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answers on 127.0.0.1:{port}")


# ------------------------------------------------------------------------------------ main


def row(result: Result) -> str:
    cpu = result.cpu_ms_per_request
    return (
        f"{result.target:8} {result.completed:>7} {result.errors:>4} {result.throughput:>9.1f} "
        f"{result.percentile(50):>8.2f} {result.percentile(95):>8.2f} "
        f"{result.percentile(99):>8.2f} {'-' if cpu is None else f'{cpu:.2f}':>9} "
        f"{result.client_ms_per_request:>7.2f} {result.sessions_per_100:>8.1f}"
    )


async def main_async(args: argparse.Namespace, pids: dict[str, int | None]) -> None:
    dsn = pg_dsn(args.database_url)
    viewers = await mint_viewers(dsn, args.viewers, args.seed)
    print(
        f"{len(viewers)} viewers (following {min(v.following for v in viewers)}.."
        f"{max(v.following for v in viewers)}), first={args.first}, "
        f"concurrency={args.concurrency}"
    )
    graphql = GraphQLTarget(args.graphql_url, args.first)
    plain = PlainTarget(args.plain_url, args.first, auth=not args.plain_no_auth)
    try:
        await check_same_documents(graphql, plain, viewers)
        targets: list[Target] = [graphql, plain]
        for target in targets:  # warm caches, pools and prepared statements
            await run(
                target,
                viewers,
                concurrency=args.concurrency,
                requests=args.warmup,
                duration=60,
                pid=None,
                dsn=dsn,
            )
        results: dict[str, list[Result]] = {t.name: [] for t in targets}
        header = (
            "target      done  err     req/s   p50 ms   p95 ms   p99 ms  "
            "CPU ms/req: server, client; new PG sessions/100 req"
        )
        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no} (load average before: {loadavg()}):\n  {header}")
            for target in targets:
                result = await run(
                    target,
                    viewers,
                    concurrency=args.concurrency,
                    requests=args.requests,
                    duration=args.duration,
                    pid=pids.get(target.name),
                    dsn=dsn,
                )
                results[target.name].append(result)
                print("  " + row(result))
        best = {name: max(rs, key=lambda r: r.throughput) for name, rs in results.items()}
        g, p = best["graphql"], best["plain"]
        print("best round of each:")
        print(f"  {header}\n  {row(g)}\n  {row(p)}")
        print(f"GraphQL/plain throughput ratio: {g.throughput / p.throughput:.3f}x")
        print(f"GraphQL/plain p50 latency ratio: {g.percentile(50) / p.percentile(50):.2f}x")
        if g.cpu_ms_per_request and p.cpu_ms_per_request:
            ratio = p.cpu_ms_per_request / g.cpu_ms_per_request
            print(f"plain/GraphQL server CPU per request: {ratio:.3f}x")
    finally:
        await forget_viewers(dsn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/chirp_bench"
    )
    parser.add_argument("--graphql-url", default="http://127.0.0.1:8000/graphql")
    parser.add_argument("--plain-url", default="http://127.0.0.1:8001/home")
    parser.add_argument("--spawn", action="store_true", help="start both servers here")
    parser.add_argument("--graphql-pid", type=int, help="to report the server's CPU per request")
    parser.add_argument("--plain-pid", type=int)
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--first", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=5000, help="per target and round")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds, per target/round")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--plain-no-auth",
        action="store_true",
        help="plain trusts ?viewer= instead of checking the bearer token (one query fewer)",
    )
    parser.add_argument(
        "--plain-lean",
        action="store_true",
        help="with --spawn: run plain.py --lean (autocommit reads), an experiment",
    )
    parser.add_argument(
        "--db-pool-size",
        type=int,
        help="with --spawn: DB_POOL_SIZE for both servers (Chirp's default is 20)",
    )
    args = parser.parse_args()
    if args.spawn:
        ports = [urlsplit(u).port or 80 for u in (args.graphql_url, args.plain_url)]
        with spawned_servers(
            args.database_url,
            ports[0],
            ports[1],
            plain_lean=args.plain_lean,
            db_pool_size=args.db_pool_size,
        ) as (gpid, ppid):
            asyncio.run(main_async(args, {"graphql": gpid, "plain": ppid}))
    else:
        asyncio.run(main_async(args, {"graphql": args.graphql_pid, "plain": args.plain_pid}))


if __name__ == "__main__":
    main()
