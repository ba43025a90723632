"""Background jobs survive the faults that used to lose them (issue 15): Redis killed and
restarted empty while jobs wait in it, and a worker killed in the middle of its jobs. Every
home-feed entry arrives: the job ledger re-enqueues what the queue lost, within
JOB_RECLAIM_SECONDS of the fault (a few seconds here) plus the work.

Each test runs on its own PostgreSQL cluster (initdb on a free port, one per module, a fresh
database per test) and its own redis-server; the machine's servers are never touched."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

from app import db
from app.settings import Settings
from models.events.tables import QueuedJob
from tests.support.accounts import User, follow, post, sign_up
from tests.support.backends import Database
from tests.support.graphql import GraphQLClient
from tests.support.servers import (
    ChirpServer,
    ChirpWorker,
    PostgresServer,
    RedisServer,
    private_database,
    running,
)

pytestmark = pytest.mark.processes

RECLAIM = "2"  # JOB_RECLAIM_SECONDS for these processes
ARRIVAL_WAIT = 40.0  # seconds for every feed entry to arrive after the fault
HOME = "query { homeTimeline(first: 50) { edges { node { body } } } }"
FAN_OUT = "chirp.fan_out_post"


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PostgresServer]:
    server = PostgresServer(tmp_path_factory.mktemp("jobs-pg"))
    await server.create()
    await server.start()
    try:
        yield server
    finally:
        await server.remove()


@pytest.fixture
async def database(cluster: PostgresServer) -> Database:
    return await private_database(cluster, f"chirp_{uuid.uuid4().hex[:8]}")


def _processes(
    database: Database, redis: RedisServer, tmp_path: Path
) -> tuple[ChirpServer, ChirpWorker]:
    env = {"JOB_RECLAIM_SECONDS": RECLAIM, "LOG_FORMAT": "json"}
    prefix = f"chirp-jobs-{uuid.uuid4().hex[:8]}"
    server = ChirpServer(
        "server", database, tmp_path, redis_url=redis.url, redis_prefix=prefix,
        env={**env, "EMBEDDED_WORKER": "0"},
    )  # fmt: skip
    worker = ChirpWorker(
        "worker", database, tmp_path, redis_url=redis.url, redis_prefix=prefix, env=env
    )
    return server, worker


async def _author_with_followers(gql: GraphQLClient, count: int) -> tuple[User, list[User]]:
    tag = uuid.uuid4().hex[:6]
    author = await sign_up(gql, f"author_{tag}")
    followers = [await sign_up(gql, f"reader{n}_{tag}") for n in range(count)]
    for reader in followers:
        await follow(gql, reader, author)
    return author, followers


async def _homes_hold(
    gql: GraphQLClient, readers: list[User], bodies: set[str], *, within: float
) -> None:
    """Until every reader's home timeline holds every body (fails with what is missing)."""
    missing: dict[str, set[str]] = {}
    try:
        async with asyncio.timeout(within):
            while True:
                missing = {}
                for reader in readers:
                    data = await gql.execute(HOME, token=reader.token)
                    seen = {edge["node"]["body"] for edge in data["homeTimeline"]["edges"]}
                    if bodies - seen:
                        missing[reader.handle] = bodies - seen
                if not missing:
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        pytest.fail(f"feed entries never arrived: {missing}")


async def _ledger(database: Database) -> dict[str, int]:
    """The fan-out jobs in the ledger: how many, taken by a run, done, and the most starts
    any took."""
    engine = db.create_engine(Settings(env="test", database_url=database.url))
    try:
        async with engine.connect() as conn:
            total, started, done, attempts = (
                await conn.execute(
                    select(
                        func.count(),
                        func.count().filter(QueuedJob.attempts > 0),
                        func.count(QueuedJob.done_at),
                        func.coalesce(func.max(QueuedJob.attempts), 0),
                    ).where(QueuedJob.name == FAN_OUT)
                )
            ).one()
    finally:
        await engine.dispose()
    return {"total": total, "started": started, "done": done, "max_attempts": attempts}


async def _ledger_reaches(database: Database, state: str, count: int) -> None:
    """Until `count` fan-out jobs are in `state` ("total": written to the ledger by the
    dispatcher, and queued; "started": taken by a run)."""
    async with asyncio.timeout(20):
        while True:
            if (await _ledger(database))[state] >= count:
                return
            await asyncio.sleep(0.05)


async def test_jobs_queued_in_a_redis_that_restarts_empty_all_run(
    request: pytest.FixtureRequest, database: Database, tmp_path: Path
) -> None:
    """No worker runs while posts are made, so their fan-out jobs wait in Redis; Redis is
    killed (-9) and restarted without its data; then a worker starts. Every post reaches
    every follower's home timeline."""
    redis = RedisServer(tmp_path)
    server, worker = _processes(database, redis, tmp_path)
    async with running(request, redis, server, worker), server.graphql() as gql:
        author, readers = await _author_with_followers(gql, 4)
        await worker.terminate()
        bodies = {f"queued while redis lived {n}" for n in range(12)}
        for body in sorted(bodies):
            await post(gql, author, body)
        await _ledger_reaches(database, "total", len(bodies))
        before = await _ledger(database)

        await redis.kill()
        await redis.start()  # empty: no RDB, no AOF
        await server.wait_ready()
        await worker.start()
        started = time.monotonic()
        await _homes_hold(gql, readers, bodies, within=ARRIVAL_WAIT)
        recovered = time.monotonic() - started
        after = await _ledger(database)
    # The closing figures (`pytest -s` shows them).
    print(f"\nredis emptied: {len(bodies) * len(readers)} feed entries due, all arrived "
          f"{recovered:.1f} s after the worker started; jobs {after}")  # fmt: skip

    assert before["done"] == 0  # they were only in Redis when it died
    assert after["done"] == after["total"] == len(bodies)


async def test_a_worker_killed_in_the_middle_of_its_jobs_loses_none(
    request: pytest.FixtureRequest, database: Database, tmp_path: Path
) -> None:
    """The worker takes the fan-out jobs and is killed (-9) while they are running (held on
    a table lock, so they are certainly mid-run, unacknowledged). A new worker, on an idle
    queue, runs them again: every post reaches every follower."""
    redis = RedisServer(tmp_path)
    server, worker = _processes(database, redis, tmp_path)
    async with running(request, redis, server, worker), server.graphql() as gql:
        author, readers = await _author_with_followers(gql, 3)
        lock = await asyncpg.connect(database.url.replace("+asyncpg", ""))
        try:
            async with lock.transaction():
                # A fan-out reads the author's followers FOR SHARE: it starts, then waits
                # here (plain reads, and so posting and reading timelines, go on).
                await lock.execute("LOCK TABLE follows IN EXCLUSIVE MODE")
                bodies = {f"written as the worker died {n}" for n in range(8)}
                for body in sorted(bodies):
                    await post(gql, author, body)
                await _ledger_reaches(database, "started", len(bodies))
                await worker.kill()
        finally:
            await lock.close()
        idle = await _ledger(database)
        await worker.start()
        started = time.monotonic()
        await _homes_hold(gql, readers, bodies, within=ARRIVAL_WAIT)
        recovered = time.monotonic() - started
        after = await _ledger(database)
    print(f"\nworker killed: {len(bodies) * len(readers)} feed entries due, all arrived "
          f"{recovered:.1f} s after a new worker started; jobs {after}")  # fmt: skip

    assert idle["done"] == 0
    assert after["done"] == after["total"] == len(bodies)
    assert after["max_attempts"] >= 2  # the killed runs counted
