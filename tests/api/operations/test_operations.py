"""The operations read-outs (systemStatus, operationCosts), /metrics protection, and
readiness when the database or Redis is down."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.runtime import Services
from app.settings import Settings
from tests.conftest import eventually, make_settings
from tests.support.accounts import sign_up
from tests.support.backends import create_database
from tests.support.graphql import GraphQLClient
from tests.support.servers import RedisServer, free_port, migrate
from tests.support.staff import make_staff

SYSTEM_STATUS = """
query Status {
  systemStatus {
    versions { name version }
    databaseVersion
    migration { current head atHead }
    jobQueueDepth outboxUnnumbered outboxUnprocessed outboxLagSeconds
    redisConnected subscriptions draining uptimeSeconds processId
  }
}
"""
OPERATION_COSTS = """
query Costs($first: Int!) {
  operationCosts(first: $first) {
    name operationType count errorCount totalSeconds meanMs maxMs meanStatements meanSqlMs
  }
}
"""
VIEWER = 'query WhoAmI { account(handle: "ops_reader") { handle } }'
TOKEN = "metrics-token-for-tests-0123456789"


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chirp.test")


@contextlib.asynccontextmanager
async def unstarted(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose lifespan never ran; its connections are closed after."""
    app = create_app(settings)
    app.state.ready = True  # as if started
    services: Services = app.state.services
    try:
        async with client(app) as http:
            yield http
    finally:
        await services.probes.close()
        if services.redis_backend is not None:
            await services.redis_backend.disconnect()
        await services.engine.dispose()


async def test_system_status_describes_the_process(gql: GraphQLClient, services: Services) -> None:
    admin = await make_staff(gql, services, "ops_admin", "ADMIN")

    status = (await gql.execute(SYSTEM_STATUS, token=admin.token))["systemStatus"]

    assert status["migration"]["atHead"] is True
    assert status["migration"]["current"] == status["migration"]["head"]
    assert {v["name"] for v in status["versions"]} >= {"chirp", "python", "strawberry"}
    assert status["databaseVersion"].startswith(("SQLite", "PostgreSQL"))
    assert status["jobQueueDepth"] >= 0 and status["outboxLagSeconds"] >= 0
    assert status["draining"] is False
    assert status["redisConnected"] is (None if services.redis_backend is None else True)


async def test_operation_costs_count_statements_per_named_operation(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "ops_admin", "ADMIN")
    reader = await sign_up(gql, "ops_reader")
    for _ in range(3):
        await gql.execute(VIEWER, token=reader.token)

    costs = (await gql.execute(OPERATION_COSTS, {"first": 100}, token=admin.token))[
        "operationCosts"
    ]

    who = next(row for row in costs if row["name"] == "WhoAmI")
    assert who["operationType"] == "query" and who["count"] >= 3
    assert who["meanStatements"] >= 1 and who["maxMs"] >= who["meanMs"] > 0
    totals = [row["totalSeconds"] for row in costs]
    assert totals == sorted(totals, reverse=True)
    errors = await gql.errors(OPERATION_COSTS, {"first": 101}, token=admin.token)
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_metrics_need_the_token_when_one_is_set(settings: Settings) -> None:
    async with unstarted(Settings(**{**settings.__dict__, "metrics_token": TOKEN})) as http:
        refused = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"authorization": "Bearer not-the-token"})
        allowed = await http.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})

    assert refused.status_code == wrong.status_code == 401
    assert allowed.status_code == 200
    assert "chirp_http_requests_total" in allowed.text


async def test_metrics_are_absent_in_production_without_a_token(settings: Settings) -> None:
    production = {**settings.__dict__, "env": "production", "secret_key": "s" * 40}
    async with unstarted(Settings(**production)) as http:
        assert (await http.get("/metrics")).status_code == 404


async def test_readiness_fails_when_the_database_is_down() -> None:
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/chirp"
    async with unstarted(Settings(env="test", database_url=nowhere)) as http:
        response = await http.get("/readyz")
        alive = await http.get("/livez")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unready",
        "checks": {"database": False, "migrations": False},
    }
    assert alive.status_code == 200


@pytest.fixture
async def redis_app(tmp_path: Path) -> AsyncIterator[tuple[Starlette, RedisServer]]:
    redis = RedisServer(tmp_path)
    await redis.start()
    database = await create_database("sqlite", tmp_path)
    await migrate(database)
    app = create_app(make_settings(database, redis_url=redis.url))
    try:
        async with app.router.lifespan_context(app):
            app.state.ready = True
            yield app, redis
    finally:
        await redis.kill()


@pytest.mark.processes
async def test_readiness_fails_when_redis_is_down(
    redis_app: tuple[Starlette, RedisServer],
) -> None:
    app, redis = redis_app
    async with client(app) as http:
        assert (await http.get("/readyz")).status_code == 200

        await redis.kill()

        async def unready() -> bool:
            response = await http.get("/readyz")
            return response.status_code == 503 and response.json()["checks"]["redis"] is False

        await eventually(unready)
        checks = (await http.get("/readyz")).json()["checks"]
    assert checks["database"] is True and checks["migrations"] is True
    await asyncio.sleep(0)


async def test_readiness_does_not_wait_for_a_busy_connection_pool(settings: Settings) -> None:
    """Slow requests holding every connection of the app's pool do not make the instance
    unready: the checks have a connection of their own."""
    app = create_app(Settings(**{**settings.__dict__, "db_pool_size": 2}))
    app.state.ready = True
    services: Services = app.state.services
    pool: Any = services.engine.pool
    held = []
    try:
        for _ in range(pool.size() + max(0, pool._max_overflow)):
            held.append(await services.engine.connect())
        async with client(app) as http:
            started = time.monotonic()
            response = await http.get("/readyz")
            elapsed = time.monotonic() - started
        # (Redis, when configured, is not connected in an app that was never started.)
        checks = response.json()["checks"]
        assert checks["database"] is True and checks["migrations"] is True, checks
        assert elapsed < 1.5
        assert services.probes.pool()["checked_out"] == len(held)
    finally:
        for conn in held:
            await conn.close()
        await services.probes.close()
        if services.redis_backend is not None:
            await services.redis_backend.disconnect()
        await services.engine.dispose()
