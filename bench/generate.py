"""Generate a Chirp benchmark data set in PostgreSQL.

Creates (or reuses an empty) database, runs Chirp's own migrations, then bulk-loads:

* accounts `user<N>` / `user<N>@bench.example`, all with one argon2 hash (password below);
* a power-law follow graph: followees are drawn Zipf-weighted by a random "popularity" rank
  (a few accounts get thousands of followers, most get a handful) and out-degrees are
  Zipf-shaped too (a few accounts follow thousands, most follow few, ~2% follow nobody);
* posts spread Zipf-like over authors (author rank independent of popularity, which keeps the
  fan-out bounded), ids and created_at increasing together, with some replies, reposts,
  followers-only and deleted posts;
* home feeds materialised server-side exactly as `fan_out_post` + `add_own_entry` would have
  written them had every follow predated every post (each post into each follower's feed
  and the author's own), a few likes, mutes and blocks (blocks only between accounts with
  no follow either way, so no feed rows need forgetting);
* every counter (followers/following/posts, like/reply/repost) consistent with the rows.

Rows are generated in Python from `--seed` and COPYed through asyncpg; feed entries are an
INSERT ... SELECT on the server. Indexes and constraints are dropped for the load and rebuilt
afterwards (foreign keys re-validated), and the resulting schema is checked to be identical
to the migrated one. Finally VACUUM (ANALYZE), as autovacuum would have done on a live system.

    .venv/bin/python bench/generate.py \
        --database-url postgresql://postgres@127.0.0.1:5432/chirp_bench --recreate
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

# Import this checkout's packages even where the editable install is missing or stale.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import db
from app.settings import Settings, normalise_database_url
from models.accounts.passwords import make_hasher

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chirp_bench"
BENCH_PASSWORD = "bench-password-1"  # noqa: S105 - a public benchmark fixture
LOADED_TABLES = ("accounts", "follows", "posts", "likes", "feed_entries", "mutes", "blocks")
WORDS = [
    "graphql",
    "postgres",
    "keyset",
    "cursor",
    "timeline",
    "follow",
    "like",
    "repost",
    "reply",
    "thread",
    "chirp",
    "bird",
    "morning",
    "coffee",
    "release",
    "deploy",
    "latency",
    "index",
    "plan",
    "buffer",
    "cache",
    "query",
    "batch",
    "loader",
    "python",
    "async",
    "await",
    "socket",
    "server",
    "client",
    "stream",
    "event",
    "queue",
    "backlog",
    "window",
    "sunset",
    "river",
    "mountain",
    "city",
    "train",
    "music",
    "book",
    "film",
    "garden",
    "weekend",
    "friday",
    "monday",
    "update",
]


def log(message: str) -> None:
    print(message, flush=True)


@dataclass
class Timer:
    started: float = field(default_factory=time.perf_counter)
    phases: list[tuple[str, float]] = field(default_factory=list)
    _last: float = field(default_factory=time.perf_counter)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases.append((name, now - self._last))
        log(f"  {name}: {now - self._last:.1f}s")
        self._last = now


# ---------------------------------------------------------------------------- the data set


@dataclass
class DataSet:
    accounts: int
    follows: list[tuple[int, int]]  # (follower, followee), in follow-id order
    followees: list[list[int]]  # index = account id
    followers_count: array
    author: array  # index = post id - 1
    kind: bytearray  # 0 original, 1 reply, 2 repost
    followers_only: bytearray
    deleted: bytearray
    parent: array  # reply_to_id or repost_of_id (0 = none)
    root: array  # thread_root_id (0 = none)
    likes: list[tuple[int, int]] = field(default_factory=list)
    mutes: list[tuple[int, int]] = field(default_factory=list)
    blocks: list[tuple[int, int]] = field(default_factory=list)
    feed_rows: int = 0
    mean_follows: float = 0.0

    @property
    def posts(self) -> int:
        return len(self.author)


def zipf_cumulative(n: int, skew: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (k + 1) ** skew for k in range(n)))


def out_degrees(rng: random.Random, n: int, mean: float, skew: float) -> list[int]:
    """Zipf-shaped out-degrees over a random order, scaled to `mean`, 2% lurkers at 0."""
    cap = max(1, min(n - 1, max(n // 4, 1)))
    raw = [1.0 / (k + 1) ** skew for k in range(n)]
    lurker = [rng.random() < 0.02 for _ in range(n)]
    noise = [rng.uniform(0.75, 1.25) for _ in range(n)]

    def degrees(scale: float) -> list[int]:
        return [
            0 if lurker[k] else min(cap, max(1, round(scale * raw[k] * noise[k]))) for k in range(n)
        ]

    low, high = 0.0, float(n) * max(mean, 1.0) * 10
    for _ in range(60):
        mid = (low + high) / 2
        if sum(degrees(mid)) / n < mean:
            low = mid
        else:
            high = mid
    result = degrees(high)
    rng.shuffle(result)
    return result


def follow_graph(
    rng: random.Random, n: int, mean: float, skew: float, out_skew: float
) -> tuple[list[tuple[int, int]], list[list[int]]]:
    popularity = list(range(1, n + 1))
    rng.shuffle(popularity)
    cum = zipf_cumulative(n, skew)
    ranks = range(n)
    followees: list[list[int]] = [[] for _ in range(n + 1)]
    edges: list[tuple[int, int]] = []
    for follower, degree in zip(range(1, n + 1), out_degrees(rng, n, mean, out_skew), strict=True):
        chosen: dict[int, None] = {}
        while len(chosen) < degree:
            for k in rng.choices(ranks, cum_weights=cum, k=max(8, 2 * (degree - len(chosen)))):
                followee = popularity[k]
                if followee != follower:
                    chosen[followee] = None
                    if len(chosen) == degree:
                        break
        followees[follower] = list(chosen)
        edges.extend((follower, f) for f in chosen)
    rng.shuffle(edges)  # follow ids in a random order of follow time
    return edges, followees


def build(args: argparse.Namespace) -> DataSet:
    rng = random.Random(args.seed)
    n, p = args.accounts, args.posts
    # Authors: a Zipf rank per post, mapped through a permutation that is independent of
    # popularity (reshuffled if the fan-out would exceed --max-feed-rows).
    author_rank = rng.choices(range(n), cum_weights=zipf_cumulative(n, args.post_skew), k=p)
    per_rank = [0] * n
    for k in author_rank:
        per_rank[k] += 1
    mean = args.mean_follows
    while True:
        edges, followees = follow_graph(rng, n, mean, args.follow_skew, args.out_skew)
        followers = array("q", [0] * (n + 1))
        for _, followee in edges:
            followers[followee] += 1
        perm = list(range(1, n + 1))
        feed_rows = 0
        for _attempt in range(20):
            rng.shuffle(perm)
            feed_rows = sum(c * (followers[perm[k]] + 1) for k, c in enumerate(per_rank))
            if feed_rows <= args.max_feed_rows:
                break
        if feed_rows <= args.max_feed_rows:
            break
        new_mean = max(1.0, mean * args.max_feed_rows / feed_rows * 0.95)
        log(
            f"  fan-out {feed_rows:,} rows > --max-feed-rows: mean follows {mean} -> {new_mean:.1f}"
        )
        if new_mean == mean:
            raise SystemExit("cannot fit the feed under --max-feed-rows; lower --post-skew")
        mean = new_mean
    author = array("q", (perm[k] for k in author_rank))
    data = DataSet(
        accounts=n,
        follows=edges,
        followees=followees,
        followers_count=followers,
        author=author,
        kind=bytearray(p),
        followers_only=bytearray(p),
        deleted=bytearray(p),
        parent=array("q", bytes(8 * p)),
        root=array("q", bytes(8 * p)),
        feed_rows=feed_rows,
        mean_follows=mean,
    )
    _shape_posts(rng, data)
    _social_extras(rng, data, args.likes)
    return data


def _shape_posts(rng: random.Random, d: DataSet) -> None:
    """Replies (10%), reposts (3%), followers-only (7%) and later-deleted (0.3%) posts.

    Replies and reposts point at a recent earlier post that was public and not deleted (a
    post is deleted an hour after it was made; replies come hours later), never a repost."""
    reposted: set[tuple[int, int]] = set()
    for i in range(d.posts):
        d.deleted[i] = rng.random() < 0.003
        roll = rng.random()
        j = i - min(i, 1 + int(rng.expovariate(1 / 2000)))  # an earlier post's index
        if i > 0 and d.kind[j] == 2:
            j = d.parent[j] - 1
        usable = i > 0 and not d.followers_only[j] and not d.deleted[j]
        if usable and roll < 0.10:
            d.kind[i], d.parent[i] = 1, j + 1
            d.root[i] = d.root[j] or j + 1
            d.followers_only[i] = rng.random() < 0.07
        elif usable and roll < 0.13 and (d.author[i], j + 1) not in reposted:
            reposted.add((d.author[i], j + 1))
            d.kind[i], d.parent[i] = 2, j + 1
        else:
            d.followers_only[i] = rng.random() < 0.07


def _visible_public(d: DataSet, index: int) -> bool:
    return not d.followers_only[index] and not d.deleted[index]


def _social_extras(rng: random.Random, d: DataSet, likes: int) -> None:
    n, p = d.accounts, d.posts
    liked: dict[tuple[int, int], None] = {}
    attempts = 0
    while len(liked) < likes and attempts < likes * 4:
        attempts += 1
        account = rng.randint(1, n)
        index = max(0, p - 1 - int(rng.expovariate(5 / p)))
        if _visible_public(d, index):
            liked[(account, index + 1)] = None
    # The heaviest readers and some random ones like a third of their 60 newest home posts,
    # so viewerHasLiked is sometimes true on the pages the benchmarks read.
    by_author: list[list[int]] = [[] for _ in range(n + 1)]
    for index in range(p):
        if not d.deleted[index]:
            by_author[d.author[index]].append(index)
    by_degree = sorted(range(1, n + 1), key=lambda a: -len(d.followees[a]))
    for viewer in by_degree[:20] + rng.sample(range(1, n + 1), min(20, n)):
        newest = sorted(
            (i for a in [*d.followees[viewer], viewer] for i in by_author[a][-60:]),
            reverse=True,
        )[:60]
        for index in newest[::3]:
            liked[(viewer, index + 1)] = None
    d.likes = list(liked)
    rng.shuffle(d.likes)
    d.mutes = list(
        dict.fromkeys(
            (a, b)
            for a, b in ((rng.randint(1, n), rng.randint(1, n)) for _ in range(max(1, n // 100)))
            if a != b
        )
    )
    followee_sets = [set(f) for f in d.followees]
    blocks: dict[tuple[int, int], None] = {}
    for _ in range(max(1, n // 200) * 4):
        if len(blocks) >= max(1, n // 200):
            break
        a, b = rng.randint(1, n), rng.randint(1, n)
        if a != b and b not in followee_sets[a] and a not in followee_sets[b]:
            blocks[(a, b)] = None
    d.blocks = list(blocks)


# ------------------------------------------------------------------------------- the rows


@dataclass(frozen=True)
class Clock:
    posts_from: datetime
    step: timedelta

    def post_time(self, index: int) -> datetime:
        return self.posts_from + self.step * index


def account_rows(d: DataSet, password_hash: str, clock: Clock) -> Iterator[tuple[object, ...]]:
    posts_count = [0] * (d.accounts + 1)
    for i in range(d.posts):
        if not d.deleted[i]:
            posts_count[d.author[i]] += 1
    born = clock.posts_from - timedelta(days=60)
    for a in range(1, d.accounts + 1):
        created = born + timedelta(seconds=a)
        handle = f"user{a}"
        yield (
            a,
            handle,
            handle,
            f"{handle}@bench.example",
            password_hash,
            f"User {a}",
            f"Benchmark account number {a}.",
            None,
            d.followers_count[a],
            len(d.followees[a]),
            posts_count[a],
            created,
            created,
        )


def follow_rows(d: DataSet, clock: Clock) -> Iterator[tuple[object, ...]]:
    start = clock.posts_from - timedelta(days=30)
    step = timedelta(days=29) / max(1, len(d.follows))
    for i, (follower, followee) in enumerate(d.follows):
        yield (i + 1, follower, followee, start + step * i)


def post_rows(d: DataSet, clock: Clock, seed: int) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed + 1)
    like_count = array("q", bytes(8 * d.posts))
    reply_count = array("q", bytes(8 * d.posts))
    repost_count = array("q", bytes(8 * d.posts))
    for _, post_id in d.likes:
        like_count[post_id - 1] += 1
    for i in range(d.posts):
        if d.deleted[i]:
            continue
        if d.kind[i] == 1:
            reply_count[d.parent[i] - 1] += 1
        elif d.kind[i] == 2:
            repost_count[d.parent[i] - 1] += 1
    for i in range(d.posts):
        created = clock.post_time(i)
        kind, parent = d.kind[i], d.parent[i]
        body = "" if kind == 2 else " ".join(rng.choices(WORDS, k=rng.randint(4, 20)))
        yield (
            i + 1,
            d.author[i],
            body,
            "FOLLOWERS" if d.followers_only[i] else "PUBLIC",
            parent if kind == 1 else None,
            d.root[i] or None,
            parent if kind == 2 else None,
            like_count[i],
            reply_count[i],
            repost_count[i],
            created,
            created,
            None,
            created + timedelta(hours=1) if d.deleted[i] else None,
        )


def pair_rows(pairs: list[tuple[int, int]], when: datetime) -> Iterator[tuple[object, ...]]:
    for i, (a, b) in enumerate(pairs):
        yield (i + 1, a, b, when)


def like_rows(d: DataSet, clock: Clock) -> Iterator[tuple[object, ...]]:
    for i, (account, post_id) in enumerate(d.likes):
        yield (i + 1, account, post_id, clock.post_time(post_id - 1) + timedelta(minutes=5))


# ---------------------------------------------------------------------------- the database


def asyncpg_dsn(url: str, database: str | None = None) -> str:
    parts = urlsplit(normalise_database_url(url).replace("postgresql+asyncpg://", "postgresql://"))
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("bench/generate.py only writes to a local PostgreSQL")
    path = parts.path if database is None else f"/{database}"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


async def prepare_database(url: str, *, recreate: bool) -> None:
    name = urlsplit(url).path.lstrip("/")
    if not name or '"' in name:
        raise SystemExit("the database URL needs a database name")
    admin = await asyncpg.connect(asyncpg_dsn(url, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and recreate:
            log(f"  dropping database {name}")
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
            log(f"  created database {name}")
            return
    finally:
        await admin.close()
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
        rows = 0
        for table in LOADED_TABLES if tables else ():
            if await conn.fetchval(f"SELECT to_regclass('public.{table}') IS NOT NULL"):
                rows += await conn.fetchval(
                    f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1) t"
                )
        if rows:
            raise SystemExit(f"database {name} is not empty; pass --recreate to start afresh")
        log(f"  using the existing empty database {name}")
    finally:
        await conn.close()


async def run_migrations(url: str) -> None:
    engine = db.create_engine(Settings(database_url=normalise_database_url(url)))
    try:
        await db.migrate(engine)
    finally:
        await engine.dispose()


SCHEMA_SQL = """
SELECT t.relname AS tbl, c.conname AS name, c.contype::text AS kind,
       pg_get_constraintdef(c.oid) AS def
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f')
UNION ALL
SELECT t.relname, i.relname, 'i', pg_get_indexdef(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND NOT EXISTS (
    SELECT 1 FROM pg_constraint c
    WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u'))
ORDER BY 1, 2
"""


async def schema_objects(conn: asyncpg.Connection) -> list[tuple[str, str, str, str]]:
    return [tuple(r) for r in await conn.fetch(SCHEMA_SQL)]


async def drop_for_load(conn: asyncpg.Connection, objects: list[tuple[str, str, str, str]]) -> None:
    for table, name, kind, _ in objects:
        if kind == "f":
            await conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for table, name, kind, _ in objects:
        if table not in LOADED_TABLES:
            continue
        if kind in ("p", "u"):
            await conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        elif kind == "i":
            await conn.execute(f'DROP INDEX "{name}"')


async def rebuild_after_load(
    conn: asyncpg.Connection, objects: list[tuple[str, str, str, str]], timer: Timer
) -> None:
    for table, name, kind, definition in objects:
        if table in LOADED_TABLES and kind in ("p", "u"):
            await conn.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
        elif table in LOADED_TABLES and kind == "i":
            await conn.execute(definition)
    timer.lap("primary keys, unique constraints and indexes rebuilt")
    for table, name, kind, definition in objects:
        if kind == "f":
            await conn.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    timer.lap("foreign keys re-added and validated")


FEED_SQL = """
INSERT INTO feed_entries (owner_id, post_id, author_id)
SELECT f.follower_id, p.id, p.author_id FROM posts p JOIN follows f ON f.followee_id = p.author_id
UNION ALL
SELECT p.author_id, p.id, p.author_id FROM posts p
"""

POST_COLUMNS = [
    "id",
    "author_id",
    "body",
    "visibility",
    "reply_to_id",
    "thread_root_id",
    "repost_of_id",
    "like_count",
    "reply_count",
    "repost_count",
    "created_at",
    "updated_at",
    "edited_at",
    "deleted_at",
]
ACCOUNT_COLUMNS = [
    "id",
    "handle",
    "handle_key",
    "email",
    "password_hash",
    "display_name",
    "bio",
    "avatar_url",
    "followers_count",
    "following_count",
    "posts_count",
    "created_at",
    "updated_at",
]


async def load(url: str, data: DataSet, args: argparse.Namespace, timer: Timer) -> None:
    password_hash = make_hasher(time_cost=1, memory_cost=1024).hash(BENCH_PASSWORD)
    now = datetime.now(UTC).replace(microsecond=0)
    span = timedelta(days=args.days)
    clock = Clock(posts_from=now - timedelta(days=1) - span, step=span / max(1, data.posts))
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("SET work_mem = '256MB'")
        objects = await schema_objects(conn)
        await drop_for_load(conn, objects)
        timer.lap("constraints and indexes dropped for the load")
        await conn.copy_records_to_table(
            "accounts", records=account_rows(data, password_hash, clock), columns=ACCOUNT_COLUMNS
        )
        await conn.copy_records_to_table(
            "follows",
            records=follow_rows(data, clock),
            columns=["id", "follower_id", "followee_id", "created_at"],
        )
        timer.lap(f"accounts ({data.accounts:,}) and follows ({len(data.follows):,}) copied")
        await conn.copy_records_to_table(
            "posts", records=post_rows(data, clock, args.seed), columns=POST_COLUMNS
        )
        timer.lap(f"posts ({data.posts:,}) copied")
        when = clock.posts_from
        await conn.copy_records_to_table(
            "likes",
            records=like_rows(data, clock),
            columns=["id", "account_id", "post_id", "created_at"],
        )
        await conn.copy_records_to_table(
            "mutes",
            records=pair_rows(data.mutes, when),
            columns=["id", "muter_id", "muted_id", "created_at"],
        )
        await conn.copy_records_to_table(
            "blocks",
            records=pair_rows(data.blocks, when),
            columns=["id", "blocker_id", "blocked_id", "created_at"],
        )
        timer.lap(f"likes ({len(data.likes):,}), mutes and blocks copied")
        status = await conn.execute(FEED_SQL)
        inserted = int(status.split()[-1])
        timer.lap(f"feed_entries materialised ({inserted:,} rows)")
        if inserted != data.feed_rows:
            raise SystemExit(f"feed rows {inserted} != expected {data.feed_rows}")
        await rebuild_after_load(conn, objects, timer)
        if await schema_objects(conn) != objects:
            raise SystemExit("the rebuilt schema differs from the migrated one")
        for table in ("accounts", "follows", "posts", "likes", "mutes", "blocks"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        await conn.execute("VACUUM (ANALYZE)")
        timer.lap("VACUUM (ANALYZE)")
        await check_counters(conn)
        timer.lap("counters checked")
        await report(conn)
    finally:
        await conn.close()


async def check_counters(conn: asyncpg.Connection) -> None:
    checks = {
        "followers_count": "SELECT count(*) FROM accounts a WHERE followers_count <> "
        "(SELECT count(*) FROM follows f WHERE f.followee_id = a.id)",
        "following_count": "SELECT count(*) FROM accounts a WHERE following_count <> "
        "(SELECT count(*) FROM follows f WHERE f.follower_id = a.id)",
        "posts_count": "SELECT count(*) FROM accounts a WHERE posts_count <> "
        "(SELECT count(*) FROM posts p WHERE p.author_id = a.id AND p.deleted_at IS NULL)",
        "like_count": "SELECT count(*) FROM posts p LEFT JOIN (SELECT post_id, count(*) n "
        "FROM likes GROUP BY post_id) l ON l.post_id = p.id WHERE p.like_count <> coalesce(l.n, 0)",
        "reply_count": "SELECT count(*) FROM posts p LEFT JOIN (SELECT reply_to_id, count(*) n "
        "FROM posts WHERE deleted_at IS NULL AND reply_to_id IS NOT NULL GROUP BY reply_to_id) r "
        "ON r.reply_to_id = p.id WHERE p.reply_count <> coalesce(r.n, 0)",
        "repost_count": "SELECT count(*) FROM posts p LEFT JOIN (SELECT repost_of_id, count(*) n "
        "FROM posts WHERE deleted_at IS NULL AND repost_of_id IS NOT NULL GROUP BY repost_of_id) "
        "r ON r.repost_of_id = p.id WHERE p.repost_count <> coalesce(r.n, 0)",
    }
    for name, sql in checks.items():
        wrong = await conn.fetchval(sql)
        if wrong:
            raise SystemExit(f"{wrong} rows have an inconsistent {name}")


async def report(conn: asyncpg.Connection) -> None:
    log("row counts:")
    for table in LOADED_TABLES:
        log(f"  {table:13} {await conn.fetchval(f'SELECT count(*) FROM {table}'):>12,}")
    top = await conn.fetchrow(
        "SELECT id, followers_count FROM accounts ORDER BY followers_count DESC, id LIMIT 1"
    )
    heavy = await conn.fetchrow(
        "SELECT id, following_count FROM accounts ORDER BY following_count DESC, id LIMIT 1"
    )
    quartiles = await conn.fetchrow(
        "SELECT percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY followers_count) "
        "AS followers, percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP "
        "(ORDER BY following_count) AS following FROM accounts"
    )
    heavy_feed = await conn.fetchval(
        "SELECT count(*) FROM feed_entries WHERE owner_id = $1", heavy["id"]
    )
    log(
        f"most followed: user{top['id']} ({top['followers_count']:,} followers); "
        f"followers p50/p90/p99 {quartiles['followers']}"
    )
    log(
        f"follows most: user{heavy['id']} ({heavy['following_count']:,} followees, "
        f"{heavy_feed:,} feed rows); following p50/p90/p99 {quartiles['following']}"
    )
    size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    log(f"database size: {size}")


async def main_async(args: argparse.Namespace) -> None:
    url = args.database_url
    timer = Timer()
    log(f"generating {args.accounts:,} accounts and {args.posts:,} posts (seed {args.seed})")
    await prepare_database(url, recreate=args.recreate)
    await run_migrations(url)
    timer.lap("database ready and migrated")
    data = build(args)
    log(
        f"  graph: {len(data.follows):,} follows (mean {len(data.follows) / data.accounts:.1f}, "
        f"target {data.mean_follows:.1f}), fan-out {data.feed_rows:,} feed rows"
    )
    timer.lap("data set generated in memory")
    await load(url, data, args, timer)
    log(f"total: {time.perf_counter() - timer.started:.1f}s; every password is {BENCH_PASSWORD!r}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mean-follows", type=float, default=20.0)
    parser.add_argument(
        "--max-feed-rows",
        type=int,
        default=30_000_000,
        help="lower the mean follows until the materialised home feeds fit (default 30M)",
    )
    parser.add_argument("--follow-skew", type=float, default=1.0, help="Zipf s of popularity")
    parser.add_argument("--out-skew", type=float, default=0.7, help="Zipf s of out-degrees")
    parser.add_argument("--post-skew", type=float, default=0.9, help="Zipf s of posts/author")
    parser.add_argument("--likes", type=int, default=None, help="default: posts / 5")
    parser.add_argument("--days", type=int, default=365, help="time span of the posts")
    parser.add_argument(
        "--recreate", action="store_true", help="drop and recreate the database if it exists"
    )
    args = parser.parse_args(argv)
    if args.accounts < 2 or args.posts < 1:
        parser.error("need at least 2 accounts and 1 post")
    if args.likes is None:
        args.likes = args.posts // 5
    return args


if __name__ == "__main__":
    asyncio.run(main_async(parse_args()))
    sys.exit(0)
