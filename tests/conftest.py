"""Fixtures: every API and integration test runs on SQLite with in-process pub/sub and, when
the machine has them, on PostgreSQL with Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette

from app import db
from app.main import create_app
from app.runtime import Services
from app.settings import Settings
from models.tables import metadata
from tests.support.backends import Database, available_backends, create_database, drop_database
from tests.support.graphql import GraphQLClient
from tests.support.limits import RELAXED_RATE_LIMITS

# Fixtures defined in support modules, usable by every test (not imported here: pytest must
# import a plugin itself to rewrite its asserts).
pytest_plugins = ["tests.support.stripe"]

BACKENDS = available_backends()
# STRIPE_API_BASE of test settings: nothing listens on port 1, so a Stripe call fails at once
# instead of reaching a developer's localstripe on :8420 (or Stripe itself).
NO_STRIPE = "http://127.0.0.1:1"


def pytest_report_header() -> str:
    return f"chirp back ends under test: {', '.join(BACKENDS)}"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start real processes (seconds each) run first, the rest in pytest's order.
    `make test` shares the tests out with pytest-xdist's `worksteal`: an idle worker takes
    half of another's queue, so a run ends on short tests, not on one worker still working
    through the slow ones while the other waits."""
    items.sort(key=lambda item: item.get_closest_marker("processes") is None)


@pytest.fixture(scope="session", params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    database = await migrated_database(request.param, tmp_path_factory.mktemp("db"))
    yield database
    await drop_database(database)


async def migrated_database(backend: str, tmp: Path) -> Database:
    """A fresh database on `backend`, migrated to head."""
    database = await create_database(backend, tmp)
    engine = db.create_engine(make_settings(database))
    try:
        await db.migrate(engine)
    finally:
        await engine.dispose()
    return database


def make_settings(database: Database, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database.url,
        "redis_url": database.redis_url,
        "redis_prefix": f"chirp-test-{uuid.uuid4().hex[:8]}",
        "argon2_time_cost": 1,
        "argon2_memory_cost": 1024,
        "dispatch_interval": 0.05,
        "embedded_worker": True,
        "cors_origins": ("https://app.example.com",),
        # Billing tests pass the `localstripe` fixture's api_base.
        "stripe_api_base": NO_STRIPE,
        "rate_limits": RELAXED_RATE_LIMITS,
    }
    values.update(overrides)
    return Settings(**values)


async def truncate(settings: Settings) -> None:
    engine = db.create_engine(settings)
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    try:
        async with engine.begin() as conn:
            if settings.is_sqlite:
                for table in tables:
                    await conn.execute(text(f"DELETE FROM {table}"))
            else:
                # A job cancelled at the previous app's shutdown may still hold a transaction.
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                await conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                # The audit log refuses TRUNCATE; a test database is wiped as a replica would
                # be, with user triggers off (the test role is a superuser).
                await conn.execute(text("SET LOCAL session_replication_role = replica"))
                await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture
def settings(database: Database) -> Settings:
    return make_settings(database)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    await truncate(settings)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        application.state.ready = True
        yield application


@pytest.fixture
def services(app: Starlette) -> Services:
    services: Services = app.state.services
    return services


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://chirp.test") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, interval: float = 0.05
) -> None:
    """Wait for background work (dispatch, fan-out) to reach a state; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    return tmp_path
