"""One command that compares Chirp's GraphQL page with a raw endpoint (bench/raw.py) and
PostGraphile 5 (bench/postgraphile/) on the same database and prints a Markdown table for
docs/benchmarks.md (issue 13), for one operation (--query, bench/operations.py):

- homeTimeline (the default): the viewer's home page, 20 posts;
- publicFeed: the public feed's first page;
- accountPosts: `account(handle:) { posts(first: 20) }`, each viewer one of the 50 accounts
  with the most posts;
- thread: `post(id:) { id thread(first: 20) }`, each viewer one of the 50 live public posts
  with the most replies;
- node: `node(id:) { ... on Post }`, each viewer a post among its newest feed entries.

Every post is shown with bench/load.py's HOME_QUERY selection. The account or post each
viewer asks for is read from the database once, after the viewers are chosen.

It mints a session token for each of --viewers accounts (bench/load.py), applies
bench/postgraphile/schema.sql (schema bench_pg), installs PostGraphile with npm if missing,
starts the three servers itself, each on core 0 (`taskset -c 0`), and then:

1. checks that every server returns the same rows for every viewer (raw and Chirp the same
   `data`, PostGraphile the same posts, counts, liked flags and authors);
2. counts SQL statements per page: with `log_statement = 'all'` set on the database for new
   sessions (servers started after it, the setting reset before the load), one more page per
   viewer, and the PostgreSQL log lines of the servers' own backends (found through their
   sockets: `ss` and pg_stat_activity.client_port), less what they log in as long idle;
3. restarts the servers without statement logging and runs --rounds interleaved rounds of
   --duration seconds per server of `wrk` on core 1 (32 connections, a Lua script rotating
   the viewers' requests), reading each server's CPU time from /proc.

Chirp runs as `python -m app.cli serve` from this checkout with CHIRP_ENV=production, Redis at
--redis-url under a bench-only key prefix (removed after), and the rate limits on but raised
(RATE_LIMIT_REQUESTS_IP and the RATE_LIMIT_BUDGET_* query budgets). PostGraphile trusts the
viewer id it is given: it does no authentication; raw and Chirp check the bearer token.

    .venv/bin/python bench/compare.py --rounds 5 --duration 10
    .venv/bin/python bench/compare.py --rounds 2 --duration 5 --only raw,chirp
    .venv/bin/python bench/compare.py --rounds 1 --duration 5 --query thread
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from typing import Any

import asyncpg
from load import Viewer, forget_viewers, loadavg, mint_viewers, pg_dsn
from operations import OPERATIONS, SERVERS, Operation
from servers import LOGS, SERVER_CORE, base_url, forget_redis_keys, prepare, servers
from statements import StatementCount, count_statements, log_path, server_backends
from wrk import WrkResult, process_cpu, run_wrk, settled_cpu, write_script

CLIENT_CORE = "1"
WARM_UP = 5  # seconds per server before the rounds (after 2 s, Chirp's first round cost more)


async def fetch_pages(
    operation: Operation, name: str, url: str, viewers: list[Viewer]
) -> list[dict[str, Any]]:
    import httpx

    documents: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        for viewer in viewers:
            r = operation.request(name, viewer)
            response = await client.request(
                r.method, r.path, headers=r.headers, content=r.body.encode()
            )
            document = response.json()
            if response.status_code != 200 or document.get("errors"):
                raise SystemExit(f"{name}, viewer {viewer.id}: {response.status_code} {document}")
            documents.append(document)
    return documents


def check_same_rows(
    operation: Operation, pages: dict[str, list[dict[str, Any]]], viewers: list[Viewer]
) -> None:
    names = list(pages)
    for i, viewer in enumerate(viewers):
        rows = {n: operation.rows(n, pages[n][i]) for n in names}
        first = rows[names[0]]
        for n in names[1:]:
            if rows[n] != first:
                raise SystemExit(f"{names[0]} and {n} disagree for viewer {viewer.id}")
        # Whole `data`, cursors included; Chirp adds `extensions.cost` (its query budget).
        if (
            "raw" in pages
            and "chirp" in pages
            and pages["raw"][i]["data"] != pages["chirp"][i]["data"]
        ):
            raise SystemExit(f"raw and chirp documents differ for viewer {viewer.id}")
    total = sum(len(operation.rows(names[0], p)[0]) for p in pages[names[0]])
    empty = sum(not operation.rows(names[0], p)[0] for p in pages[names[0]])
    print(
        f"same rows from {', '.join(names)} for {len(viewers)} viewers ({total} posts, "
        f"{empty} viewers with none)"
    )


async def set_statement_logging(dsn: str, on: bool) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        database = await conn.fetchval("SELECT current_database()")
        setting = "SET log_statement = 'all'" if on else "RESET log_statement"
        await conn.execute(f'ALTER DATABASE "{database}" {setting}')
    finally:
        await conn.close()


async def check_and_count(
    args: argparse.Namespace,
    operation: Operation,
    names: list[str],
    ports: dict[str, int],
    viewers: list[Viewer],
    prefix: str,
) -> dict[str, StatementCount | None]:
    dsn = pg_dsn(args.database_url)
    log = log_path(args.postgres_log)
    await set_statement_logging(dsn, True)
    try:
        with servers(args, names, ports, prefix) as pids:
            pages = {
                n: await fetch_pages(operation, n, base_url(n, args, ports), viewers) for n in names
            }
            check_same_rows(operation, pages, viewers)
            counts: dict[str, StatementCount | None] = {}
            for name in names:
                if name not in pids:
                    counts[name] = None  # an external Chirp's sessions predate the setting
                    continue
                start, began = log.stat().st_size, time.monotonic()
                await fetch_pages(operation, name, base_url(name, args, ports), viewers)
                busy = log.stat().st_size
                backends = await server_backends(dsn, pids[name])
                await asyncio.sleep(time.monotonic() - began)  # as long idle: background work
                await asyncio.sleep(0.3)  # let PostgreSQL write its lines
                counts[name] = count_statements(log, start, busy, backends, len(viewers))
    finally:
        await set_statement_logging(dsn, False)
    return counts


def load_rounds(
    args: argparse.Namespace,
    operation: Operation,
    names: list[str],
    ports: dict[str, int],
    viewers: list[Viewer],
    prefix: str,
) -> dict[str, list[WrkResult]]:
    scripts = {
        n: write_script([operation.request(n, v) for v in viewers], LOGS / f"chirp-compare-{n}.lua")
        for n in names
    }
    results: dict[str, list[WrkResult]] = {n: [] for n in names}
    with servers(args, names, ports, prefix) as pids:
        for n in names:  # warm pools, caches and prepared statements
            run_wrk(base_url(n, args, ports), scripts[n], WARM_UP, args.connections, CLIENT_CORE)
        for round_no in range(1, args.rounds + 1):
            print(f"  round {round_no} (load average before: {loadavg()})")
            for n in names:
                pid = pids.get(n) or args.chirp_pid
                before = process_cpu(pid)
                result = run_wrk(
                    base_url(n, args, ports),
                    scripts[n],
                    args.duration,
                    args.connections,
                    CLIENT_CORE,
                )
                after = settled_cpu(pid)
                if before is not None and after is not None:
                    result.cpu_seconds = after - before
                    # wrk stops with a request outstanding on every connection; the server
                    # still serves them, and their CPU is in `after`.
                    result.served = result.requests + args.connections
                results[n].append(result)
                print(f"    {n:12} {result.describe()}")
    return results


def ratio(results: dict[str, list[WrkResult]], a: str, b: str) -> str:
    if a not in results or b not in results:
        return "-"
    each = [x.rate / y.rate for x, y in zip(results[a], results[b], strict=True) if y.rate]
    if not each:
        return "-"
    return f"{statistics.median(each):.3f} (range {min(each):.3f}-{max(each):.3f})"


def cpu_ratio(results: dict[str, list[WrkResult]], a: str, b: str) -> str:
    if a not in results or b not in results:
        return "-"
    each = [
        x.cpu_ms_per_request / y.cpu_ms_per_request
        for x, y in zip(results[a], results[b], strict=True)
        if x.cpu_ms_per_request and y.cpu_ms_per_request
    ]
    if not each:
        return "-"
    return f"{statistics.median(each):.2f} (range {min(each):.2f}-{max(each):.2f})"


def report(
    args: argparse.Namespace,
    operation: Operation,
    results: dict[str, list[WrkResult]],
    counts: dict[str, StatementCount | None],
) -> None:
    print(
        f"\n{operation.name}: {args.viewers} viewers, {args.connections} connections, "
        f"{args.rounds} rounds of {args.duration:g} s; servers on core {SERVER_CORE}, "
        f"wrk on core {CLIENT_CORE}\n"
    )
    print(
        "| server | req/s (median) | p99 ms (median) | server CPU ms/page | "
        "SQL statements/page | of which BEGIN/COMMIT/ROLLBACK |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, rs in results.items():
        rate = statistics.median(r.rate for r in rs)
        p99 = statistics.median(r.p99_ms for r in rs)
        cpus = [r.cpu_ms_per_request for r in rs if r.cpu_ms_per_request is not None]
        cpu = f"{statistics.median(cpus):.2f}" if cpus else "-"
        count = counts.get(name)
        statements = f"{count.per_page:.1f}" if count else "-"
        transactions = f"{count.transaction_per_page:.1f}" if count else "-"
        bad = sum(r.bad for r in rs)
        label = name if not bad else f"{name} ({bad} bad responses)"
        print(f"| {label} | {rate:.0f} | {p99:.1f} | {cpu} | {statements} | {transactions} |")
    print()
    print(f"- Chirp/raw throughput: {ratio(results, 'chirp', 'raw')}")
    print(f"- Chirp/PostGraphile throughput: {ratio(results, 'chirp', 'postgraphile')}")
    print(f"- Chirp/raw server CPU per page: {cpu_ratio(results, 'chirp', 'raw')}")
    print(
        f"- Chirp/PostGraphile server CPU per page: {cpu_ratio(results, 'chirp', 'postgraphile')}"
    )
    for name, count in counts.items():
        if count:
            print(f"- {name} statements per page: {count.describe()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/chirp_bench"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per server/round")
    parser.add_argument("--only", default=",".join(SERVERS), help="e.g. raw,chirp")
    parser.add_argument(
        "--query",
        choices=list(OPERATIONS),
        default="homeTimeline",
        help="the operation to compare (bench/operations.py)",
    )
    parser.add_argument("--chirp-url", help="use this running Chirp (its /graphql) instead")
    parser.add_argument("--chirp-pid", type=int, help="with --chirp-url: for its CPU per page")
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--base-port", type=int, default=8100)
    parser.add_argument("--postgres-log", help="PostgreSQL's log file (default: Debian's)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    names = [n for n in SERVERS if n in args.only.split(",")]
    if not names or set(args.only.split(",")) - set(SERVERS):
        raise SystemExit(f"--only takes some of {','.join(SERVERS)}")
    ports = {n: args.base_port + i for i, n in enumerate(SERVERS)}
    operation = OPERATIONS[args.query]
    prepare(args, names)
    dsn = pg_dsn(args.database_url)
    prefix = f"chirp-bench-{secrets.token_hex(4)}"
    viewers = asyncio.run(mint_viewers(dsn, args.viewers, args.seed))
    try:
        operation = asyncio.run(operation.bind(dsn, viewers))
        counts = asyncio.run(check_and_count(args, operation, names, ports, viewers, prefix))
        results = load_rounds(args, operation, names, ports, viewers, prefix)
        report(args, operation, results, counts)
    finally:
        asyncio.run(forget_viewers(dsn))
        if "chirp" in names and not args.chirp_url:
            forget_redis_keys(args.redis_url, prefix)


if __name__ == "__main__":
    main()
