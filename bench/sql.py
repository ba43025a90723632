"""SQL-level measurements of the home timeline (and the public feed) on a generated data set.

1. EXPLAIN (ANALYZE, BUFFERS) of the exact statements Chirp sends: the SQL and parameters are
   captured from `models.timeline.queries.home_page` / `public_page` through SQLAlchemy's
   cursor events, then PREPAREd and `EXPLAIN ... EXECUTE`d N times, as the app's asyncpg
   connections run them (prepared statements: PostgreSQL may switch to a generic plan after
   five executions; the steady-state (auto) and the forced generic plan are both timed).
   Cases: the viewer who follows the most accounts (largest feed), the sparsest viewer
   (smallest non-empty feed), page 1 vs the page after 200,000 rows (keyset cursor = the key
   of the 200,000th row) of the largest feed, and the public feed page 1 vs after 200,000.
2. Statements per GraphQL home page of first:10, 20 and 100, counted in-process with
   SQLAlchemy events (app.main.create_app behind httpx.ASGITransport, lifespan started).

    .venv/bin/python bench/sql.py --database-url postgresql://postgres@127.0.0.1:5432/chirp_bench
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

# Import this checkout's packages even where the editable install is missing or stale.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import db
from app.settings import Settings
from models.accounts.passwords import new_token, token_digest
from models.timeline import queries

PAGE = 20
DEEP_ROW = 200_000


# ------------------------------------------------------------------ capturing the real SQL


@dataclass
class Captured:
    statement: str
    parameters: tuple[Any, ...]


async def capture(
    engine: AsyncEngine, call: Callable[[AsyncSession], Awaitable[object]]
) -> Captured:
    """Run `call` and return the one statement it sent, in asyncpg's $n form."""
    seen: list[Captured] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append(Captured(statement, tuple(parameters or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        async with db.create_sessionmaker(engine)() as session:
            await call(session)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    if len(seen) != 1:
        raise RuntimeError(f"expected one statement, saw {len(seen)}")
    return seen[0]


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no literal for {value!r}")


# ----------------------------------------------------------------------------- EXPLAINing


@dataclass
class Measured:
    label: str
    mode: str
    execution_ms: list[float] = field(default_factory=list)
    planning_ms: list[float] = field(default_factory=list)
    round_trip_ms: list[float] = field(default_factory=list)
    jit_ms: list[float] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    rows: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.execution_ms)


async def explain(
    engine: AsyncEngine, label: str, captured: Captured, *, runs: int, mode: str
) -> Measured:
    """PREPARE the statement, EXECUTE it 6 times to let the plan cache settle, then take
    `runs` EXPLAIN (ANALYZE, BUFFERS) EXECUTEs and `runs` timed plain EXECUTEs."""
    result = Measured(label, mode)
    args = ", ".join(literal(v) for v in captured.parameters)
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute(f"SET plan_cache_mode = {mode}")
        await raw.execute(f"PREPARE bench_q AS {captured.statement}")
        try:
            for _ in range(6):
                await raw.fetch(f"EXECUTE bench_q({args})")
            for _ in range(runs):
                started = time.perf_counter()
                rows = await raw.fetch(f"EXECUTE bench_q({args})")
                result.round_trip_ms.append((time.perf_counter() - started) * 1000)
                result.rows = len(rows)
            for _ in range(runs):
                doc = await raw.fetchval(
                    f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE bench_q({args})"
                )
                out = (doc if isinstance(doc, list) else json.loads(doc))[0]
                result.execution_ms.append(out["Execution Time"])
                result.planning_ms.append(out.get("Planning Time", 0.0))
                result.plan = out["Plan"]
                jit = out.get("JIT", {}).get("Timing", {}).get("Total")
                result.jit_ms.append(float(jit) if jit is not None else 0.0)
        finally:
            await raw.execute("DEALLOCATE bench_q")
            await raw.execute("RESET plan_cache_mode")
    return result


def plan_lines(node: dict[str, Any], depth: int = 0) -> list[str]:
    what = node["Node Type"]
    if "Index Name" in node:
        what += f" using {node['Index Name']}"
    elif "Relation Name" in node:
        what += f" on {node['Relation Name']}"
    for key in ("Index Cond", "Filter", "Join Filter", "Cache Key", "Subplan Name"):
        if key in node:
            what += f" [{key}: {node[key]}]"
    if node.get("Subplan Name"):
        what = f"{node['Subplan Name']}: {what}"
    buffers = node.get("Shared Hit Blocks", 0) + node.get("Shared Read Blocks", 0)
    line = (
        f"{'  ' * depth}-> {what}  (rows={node.get('Actual Rows')} "
        f"loops={node.get('Actual Loops')} time={node.get('Actual Total Time')}ms "
        f"buffers={buffers})"
    )
    lines = [line]
    for child in node.get("Plans", []):
        lines.extend(plan_lines(child, depth + 1))
    return lines


def summary(node: dict[str, Any]) -> str:
    """A one-line shape of the plan: its scan and join nodes, outermost first."""
    parts: list[str] = []

    def walk(n: dict[str, Any]) -> None:
        kind = n["Node Type"]
        if kind in ("Limit", "Materialize", "Memoize", "Sort", "Result"):
            pass
        elif "Index Name" in n:
            parts.append(f"{kind} {n['Index Name']}")
        elif "Relation Name" in n:
            parts.append(f"{kind} {n['Relation Name']}")
        else:
            parts.append(kind)
        for child in n.get("Plans", []):
            walk(child)

    walk(node)
    return " > ".join(parts)


# -------------------------------------------------------------------------- the SQL cases


@dataclass
class Viewers:
    heavy: int
    heavy_rows: int
    sparse: int
    sparse_rows: int
    empty: int


async def pick_viewers(engine: AsyncEngine) -> Viewers:
    async with engine.connect() as conn:
        heavy = (
            await conn.execute(
                text("SELECT id FROM accounts ORDER BY following_count DESC, id LIMIT 1")
            )
        ).scalar_one()
        heavy_rows = (
            await conn.execute(
                text("SELECT count(*) FROM feed_entries WHERE owner_id = :v"), {"v": heavy}
            )
        ).scalar_one()
        sparse, sparse_rows = (
            await conn.execute(
                text(
                    "SELECT owner_id, count(*) FROM feed_entries GROUP BY owner_id "
                    "ORDER BY count(*), owner_id LIMIT 1"
                )
            )
        ).one()
        empty = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM accounts a WHERE NOT EXISTS "
                    "(SELECT 1 FROM feed_entries f WHERE f.owner_id = a.id)"
                )
            )
        ).scalar_one()
    return Viewers(heavy, heavy_rows, sparse, sparse_rows, empty)


async def deep_key(engine: AsyncEngine, sql: str, **params: int) -> int | None:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def sql_cases(engine: AsyncEngine, runs: int) -> list[tuple[str, Captured]]:
    v = await pick_viewers(engine)
    print(
        f"viewers: user{v.heavy} follows the most accounts ({v.heavy_rows:,} feed rows); "
        f"user{v.sparse} has the smallest non-empty feed ({v.sparse_rows} rows); "
        f"{v.empty} accounts have an empty feed"
    )
    cases: list[tuple[str, Captured]] = []

    async def home(viewer: int, before: int | None) -> Captured:
        return await capture(
            engine,
            lambda s: queries.home_page(s, viewer_id=viewer, first=PAGE, before=before),
        )

    async def public(viewer: int, before: int | None) -> Captured:
        return await capture(
            engine,
            lambda s: queries.public_page(s, viewer_id=viewer, first=PAGE, before=before),
        )

    cases.append((f"home, largest feed (user{v.heavy}), page 1", await home(v.heavy, None)))
    cases.append((f"home, sparsest feed (user{v.sparse}), page 1", await home(v.sparse, None)))
    key = await deep_key(
        engine,
        "SELECT post_id FROM feed_entries WHERE owner_id = :v ORDER BY post_id DESC "
        "OFFSET :o LIMIT 1",
        v=v.heavy,
        o=DEEP_ROW - 1,
    )
    if key is not None:
        cases.append(
            (
                f"home, largest feed (user{v.heavy}), after row {DEEP_ROW:,} (page 10,001)",
                await home(v.heavy, key),
            )
        )
    else:
        print(f"no home feed has {DEEP_ROW:,} rows: the deep page is measured on the public feed")
    cases.append((f"public feed (as user{v.heavy}), page 1", await public(v.heavy, None)))
    public_rows = await deep_key(
        engine,
        "SELECT count(*) FROM posts WHERE visibility = 'PUBLIC' AND deleted_at IS NULL "
        "AND reply_to_id IS NULL",
    )
    # Page 10,001 when the public feed is that long, else its last full page.
    deep_row = min(DEEP_ROW, max(1, (public_rows or 0) - PAGE - 1))
    if deep_row < DEEP_ROW:
        print(f"the public feed has {public_rows:,} rows: its deep page starts after {deep_row:,}")
    key = await deep_key(
        engine,
        "SELECT id FROM posts WHERE visibility = 'PUBLIC' AND deleted_at IS NULL "
        "AND reply_to_id IS NULL ORDER BY id DESC OFFSET :o LIMIT 1",
        o=deep_row - 1,
    )
    if key is not None:
        page = f"page {deep_row // PAGE + 1:,}"
        cases.append(
            (
                f"public feed (as user{v.heavy}), after row {deep_row:,} ({page})",
                await public(v.heavy, key),
            )
        )
    return cases


async def run_sql(engine: AsyncEngine, runs: int, verbose: bool) -> list[Measured]:
    cases = await sql_cases(engine, runs)
    print(f"\nstatement (as sent by models.timeline.queries, params {cases[0][1].parameters}):")
    print("  " + cases[0][1].statement.replace("\n", "\n  "))
    results: list[Measured] = []
    for label, captured in cases:
        for mode in ("auto", "force_generic_plan"):
            results.append(await explain(engine, label, captured, runs=runs, mode=mode))
    print(f"\nmedian of {runs} runs (prepared statement, plan cache settled):")
    print(
        f"  {'case':66} {'plan cache':18} {'exec ms':>8} {'plan ms':>8} {'(jit ms)':>8} "
        f"{'client ms':>9} rows"
    )
    for r in results:
        print(
            f"  {r.label:66} {r.mode:18} {r.median:>8.3f} "
            f"{statistics.median(r.planning_ms):>8.3f} {statistics.median(r.jit_ms):>8.3f} "
            f"{statistics.median(r.round_trip_ms):>9.3f} {r.rows:>4}"
        )
    print("\nplans (steady state, 'auto'):")
    for r in results:
        if r.mode == "auto" or verbose:
            print(f"  {r.label} [{r.mode}]: {summary(r.plan)}")
            if verbose or "page 1" in r.label:
                for line in plan_lines(r.plan, 2):
                    print(line)
    by_label = {(r.label, r.mode): r for r in results}
    for first_label, deep_prefix in (
        (cases[0][0], "home, largest feed"),
        (next(c[0] for c in cases if c[0].startswith("public") and "page 1" in c[0]), "public"),
    ):
        deep = next((c[0] for c in cases if c[0].startswith(deep_prefix) and "after" in c[0]), None)
        if deep:
            ratio = by_label[(deep, "auto")].median / by_label[(first_label, "auto")].median
            print(f"deep page / page 1 ({deep_prefix}): {ratio:.2f}x")
    return results


# ----------------------------------------------------------------- statements per request

COUNTING: contextvars.ContextVar[bool] = contextvars.ContextVar("counting", default=False)
QUERY = """query HomeTimeline($first: Int!) { homeTimeline(first: $first) { edges { cursor
  node { id body createdAt likeCount replyCount repostCount viewerHasLiked
  author { handle displayName } } } pageInfo { hasNextPage endCursor } } }"""


async def count_statements(database_url: str, viewer_id: int) -> None:
    from app.main import create_app

    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "CHIRP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(36),
            # Production refuses the placeholders; a timeline page pays nothing and mails
            # nobody, so these values are never used.
            "STRIPE_API_KEY": "sk_test_chirp_bench",
            "STRIPE_WEBHOOK_SECRET": "whsec_chirp_bench",
            "SMTP_HOST": "127.0.0.1",
        }
    )
    app = create_app(settings)
    engine: AsyncEngine = app.state.services.engine
    pre_ping = bool(getattr(engine.sync_engine.pool, "_pre_ping", False))
    statements: list[str] = []
    counts = {"checkouts": 0, "transactions": 0}

    def on_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if COUNTING.get():
            statements.append(" ".join(statement.split())[:90])

    def on_checkout(*_: Any) -> None:
        if COUNTING.get():
            counts["checkouts"] += 1

    def on_begin(*_: Any) -> None:
        if COUNTING.get():
            counts["transactions"] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    event.listen(engine.sync_engine.pool, "checkout", on_checkout)
    event.listen(engine.sync_engine, "begin", on_begin)
    token = new_token()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO login_sessions (account_id, token_hash, user_agent, ip, "
                "created_at, expires_at) VALUES (:a, :h, 'chirp-bench/sql', '', now(), :e)"
            ),
            {"a": viewer_id, "h": token_digest(token), "e": datetime.now(UTC) + timedelta(1)},
        )
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client,
        ):
            print(f"\nstatements per GraphQL home page (user{viewer_id}, in-process):")
            per_size: dict[int, int] = {}
            for first in (10, 20, 100, 10):
                statements.clear()
                counts.update(checkouts=0, transactions=0)
                reset = COUNTING.set(True)
                try:
                    response = await client.post(
                        "/graphql",
                        json={
                            "query": QUERY,
                            "operationName": "HomeTimeline",
                            "variables": {"first": first},
                        },
                        headers={"authorization": f"Bearer {token}"},
                    )
                finally:
                    COUNTING.reset(reset)
                body = response.json()
                assert "errors" not in body, body
                posts = len(body["data"]["homeTimeline"]["edges"])
                per_size[first] = len(statements)
                # BEGIN and ROLLBACK per transaction; a pre-ping is BEGIN, ";", ROLLBACK.
                ping = 3 if pre_ping else 0
                trips = len(statements) + 2 * counts["transactions"] + ping * counts["checkouts"]
                print(
                    f"  first: {first:>3} -> {posts:>3} posts, {len(statements)} statements, "
                    f"{counts['transactions']} transactions, {counts['checkouts']} pool "
                    f"checkouts ({'' if pre_ping else 'not '}pre-pinged), ~{trips} round trips "
                    "to PostgreSQL"
                )
            for s in statements:
                print(f"    {s}")
            verdict = "equal" if per_size[10] == per_size[100] else "NOT equal"
            print(f"  first 10 vs first 100: {per_size[10]} vs {per_size[100]} ({verdict})")
    finally:
        async with db.create_engine(settings).begin() as conn:
            await conn.execute(
                text("DELETE FROM login_sessions WHERE user_agent = 'chirp-bench/sql'")
            )


async def main_async(args: argparse.Namespace) -> None:
    settings = Settings(database_url=args.database_url)
    engine = db.create_engine(settings)
    try:
        await db.check_migrated(engine)
        await run_sql(engine, args.runs, args.verbose)
        viewer = (await pick_viewers(engine)).heavy
    finally:
        await engine.dispose()
    await count_statements(args.database_url, viewer)


def main() -> None:
    from app.settings import normalise_database_url

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/chirp_bench"
    )
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--verbose", action="store_true", help="print every plan in full")
    args = parser.parse_args()
    args.database_url = normalise_database_url(args.database_url)
    if "@127.0.0.1" not in args.database_url and "@localhost" not in args.database_url:
        raise SystemExit("bench/sql.py only measures a local PostgreSQL")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
