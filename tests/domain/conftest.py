"""Fixtures of the fast domain tier: actions run on a real database session inside one
transaction that is rolled back after each test (Warehouse's pattern), on SQLite and, when
the machine has it, on PostgreSQL. No application, dispatcher, hub, broker or loop starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app import db
from app.settings import Settings
from models.billing import catalogue
from models.billing.setup import BillingSetup
from tests.conftest import BACKENDS, make_settings, migrated_database
from tests.support.backends import drop_database
from tests.support.memory_gateway import InMemoryPaymentGateway


@pytest.fixture(scope="session", params=BACKENDS)
async def domain_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    # A database of its own, migrated once per session: the API tests leave their rows behind
    # (they wipe tables before, not after), and domain tests expect an empty database.
    database = await migrated_database(request.param, Path(tmp_path_factory.mktemp("domain")))
    yield make_settings(database)
    await drop_database(database)


@pytest.fixture(scope="session")
async def domain_engine(domain_settings: Settings) -> AsyncIterator[AsyncEngine]:
    # app.db's engine: on SQLite it already takes over BEGIN from pysqlite (the "begin" event
    # SQLAlchemy documents for aiosqlite), without which SAVEPOINT would not work.
    engine = db.create_engine(domain_settings)
    # Reference data the application's start writes (plans and prices), committed once.
    async with db.create_sessionmaker(engine)() as session, session.begin():
        await catalogue.ensure_catalogue(session)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db_connection(domain_engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection inside an outer transaction that is rolled back after the test."""
    async with domain_engine.connect() as conn:
        outer = await conn.begin()
        try:
            yield conn
        finally:
            await outer.rollback()


@pytest.fixture
def db_sessionmaker(
    db_connection: AsyncConnection, domain_settings: Settings
) -> async_sessionmaker[AsyncSession]:
    """The application's sessionmaker (audit key in `session.info` included), bound to the
    test's connection: each session's commit only releases a savepoint."""
    factory = db.create_sessionmaker(
        db_connection.engine, audit_key=domain_settings.audit_chain_key
    )
    factory.configure(bind=db_connection, join_transaction_mode="create_savepoint")
    return factory


@pytest.fixture
async def db_session(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for one test; what it commits is rolled back with the outer transaction."""
    async with db_sessionmaker() as session:
        yield session


@pytest.fixture
def payment_gateway() -> InMemoryPaymentGateway:
    """A fresh in-memory payment processor per test."""
    return InMemoryPaymentGateway()


@pytest.fixture
def billing_setup(
    domain_settings: Settings, payment_gateway: InMemoryPaymentGateway
) -> BillingSetup:
    """The billing engine's setup as the application builds it, on the in-memory gateway."""
    return BillingSetup(
        gateway=payment_gateway,
        retry_days=domain_settings.billing_retry_days,
        grace=timedelta(days=domain_settings.billing_grace_days),
        freeze_on_dispute=domain_settings.billing_freeze_on_dispute,
    )
