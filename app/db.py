"""Database engine, sessions and the migration check the server runs before it starts."""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import await_only

from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


class NotMigrated(RuntimeError):
    """The database schema is not at the migration head this code expects."""


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        # hide_parameters: values (emails, password hashes) never appear in error messages,
        # so never in logs.
        engine = create_async_engine(settings.database_url, hide_parameters=True)
        _serialise_sqlite_writers(engine)
        return engine
    engine = create_async_engine(
        settings.database_url,
        hide_parameters=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size // 4,
        pool_timeout=settings.db_pool_timeout,
        # No pre-ping: it costs three round trips per checkout; a dead connection fails
        # one statement instead, and the pool recycles it.
        pool_recycle=1800,
        # JIT compiles plans the planner thinks are big; for these short keyset reads it
        # only ever adds milliseconds (a generic public-feed plan: 110 ms instead of 0.1).
        connect_args={"server_settings": {"jit": "off"}},
    )
    _ping_idle_connections(engine)
    return engine


# A pooled connection idle this long is pinged before use: it may have died with the server
# (a restart, a failover) while nobody used it.
PING_AFTER_IDLE = 5.0
PING_TIMEOUT = 2.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Replace a pooled connection the server closed (asyncpg noticed: no round trip), and
    ping (one round trip, `;`) one that sat in the pool for `PING_AFTER_IDLE` seconds before
    handing it out (a silent network death); a dead one is replaced (SQLAlchemy replaces that
    connection on `DisconnectionError` and retries the checkout once). So the first request
    or `/readyz` after PostgreSQL comes back does not fail on a connection the restart
    killed. Busy connections, checked in and out within milliseconds, are not pinged
    (SQLAlchemy's `pool_pre_ping` would cost three round trips on every checkout)."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        if driver.is_closed():  # the server closed it (a restart): free to notice
            raise DisconnectionError("a pooled connection was closed by the server")
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            await_only(asyncio.wait_for(driver.fetchrow(";"), PING_TIMEOUT))
        except Exception as exc:
            raise DisconnectionError(f"an idle pooled connection is dead: {exc!r}") from exc


def pool_saturated(engine: AsyncEngine) -> bool:
    """Whether every connection the engine's pool may hold is checked out, so a new
    checkout would wait (and, past the pool's timeout, fail)."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return False
    # QueuePool has no public accessor for its overflow limit.
    return pool.checkedout() >= pool.size() + max(0, pool._max_overflow)


def _serialise_sqlite_writers(engine: AsyncEngine) -> None:
    # SQLite upgrades a read transaction to a write lock lazily and fails instead of
    # waiting when another writer got there first; BEGIN IMMEDIATE waits (busy_timeout).
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


READ_ONLY = "chirp_read_only"
AUDIT_KEY_INFO = "chirp_audit_key"  # the same name as models.audit.chain.KEY_INFO


def create_sessionmaker(
    engine: AsyncEngine, *, audit_key: bytes | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that may write (on SQLite they take the write lock when they begin). Only
    sessions given the audit key can append to or verify the audit log."""
    return async_sessionmaker(engine, expire_on_commit=False, info=_info(audit_key))


def create_read_sessionmaker(
    engine: AsyncEngine, *, audit_key: bytes | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that only read: on SQLite a deferred BEGIN, so readers never queue behind a
    writer (WAL gives them a snapshot); on PostgreSQL the same as any session."""
    return async_sessionmaker(
        engine.execution_options(**{READ_ONLY: True}),
        expire_on_commit=False,
        info=_info(audit_key),
    )


def _info(audit_key: bytes | None) -> dict[str, object]:
    return {} if audit_key is None else {AUDIT_KEY_INFO: audit_key}


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


@functools.cache
def head_revision() -> str | None:
    """The newest migration of this code (read from the scripts once per process)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database to `revision` (Alembic, on the engine's own connection)."""
    await _alembic(engine, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Downgrade the database to `revision` (tests of migrations; operators' rollbacks)."""
    await _alembic(engine, command.downgrade, revision)


async def _alembic(engine: AsyncEngine, step: Any, revision: str) -> None:
    def run(sync: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync
        step(config, revision)

    # Alembic begins and commits each migration itself (`transaction_per_migration`), so a
    # migration may step outside it (CREATE INDEX CONCURRENTLY in 0011).
    async with engine.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()


async def check_migrated(engine: AsyncEngine) -> None:
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise NotMigrated(
            f"The database is at migration {current or 'none'} but this code needs {head}. "
            "Run `chirp migrate` (or `make run`, which migrates) and start again."
        )
