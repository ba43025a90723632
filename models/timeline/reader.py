"""Runs lean statements (`models/timeline/lean.py`) for compiled reads and shared live
delivery: asyncpg on PostgreSQL (its own small pool, prepared statements, no transaction, no
reset round trip on release), SQLAlchemy's connection on SQLite."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from models.timeline import lean
from telemetry import costs

_CONNECTION_LOST = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)


class Reader:
    """Runs lean statements: asyncpg on PostgreSQL (its own small pool, prepared statements,
    no transaction, no reset round trip on release), SQLAlchemy's connection on SQLite."""

    def __init__(
        self,
        engine: AsyncEngine,
        options: dict[str, Any] | None,
        pool_size: int,
        acquire_timeout: float = 30.0,
    ) -> None:
        self.engine = engine
        self.options = options
        self.pool_size = pool_size
        # Past it a read is shed as the general pool sheds (SQLAlchemy's TimeoutError).
        self.acquire_timeout = acquire_timeout
        self.dialect = engine.dialect
        self.closed = False
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None

    @property
    def reads_many(self) -> bool:
        """Whether a statement over many viewers (`unnest`) runs here: PostgreSQL."""
        return self.options is not None

    async def _acquire_pool(self) -> asyncpg.Pool:
        if self.closed:
            raise RuntimeError("the reader is closed")
        if self._pool is None:
            if self._opening is None:
                self._opening = asyncio.Lock()
            async with self._opening:
                if self._pool is None:
                    assert self.options is not None
                    self._pool = await asyncpg.create_pool(
                        min_size=0, max_size=self.pool_size, reset=_keep_state, **self.options
                    )
        return self._pool

    async def fetch(self, read: lean.LeanRead, values: dict[str, Any]) -> list[Sequence[Any]]:
        started = time.perf_counter()
        try:
            if self.options is None:
                async with self.engine.connect() as conn:
                    return list((await conn.execute(read.statement, values)).all())
            sql, names, defaults = self._compiled(read)
            args = [values[n] if n in values else defaults[n] for n in names]
            pool = await self._acquire_pool()
            for attempt in range(2):
                try:
                    conn = await pool.acquire(timeout=self.acquire_timeout)
                except TimeoutError as exc:
                    raise PoolTimeout(
                        f"no lean-read connection free within {self.acquire_timeout} s"
                    ) from exc
                try:
                    return list(await conn.fetch(sql, *args))
                except _CONNECTION_LOST:
                    # A connection that died idle in the pool (the server restarted): the
                    # read is retried once on a new one; a second loss is an outage.
                    if attempt or not conn.is_closed():
                        raise
                finally:
                    await pool.release(conn)
            raise AssertionError("unreachable")
        finally:
            costs.add_statement(time.perf_counter() - started)

    def _compiled(self, read: lean.LeanRead) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        found = read.compiled.get("postgresql")
        if found is None:
            done = read.statement.compile(
                dialect=self.dialect, compile_kwargs={"render_postcompile": True}
            )
            found = read.compiled["postgresql"] = (
                done.string,
                tuple(done.positiontup or ()),
                dict(done.params),
            )
        return found  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        self.closed = True
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


async def _keep_state(conn: asyncpg.Connection) -> None:
    """Lean reads change no session state: nothing to reset on release."""


def connect_options(engine: AsyncEngine) -> dict[str, Any] | None:
    """asyncpg's connection arguments for the engine's database, as SQLAlchemy's dialect
    makes them from DATABASE_URL (TLS and the other options in its query string included);
    None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    _, options = engine.dialect.create_connect_args(engine.url)
    options = dict(options)
    # SQLAlchemy's own options, not asyncpg's: its statement cache size is asyncpg's.
    size = options.pop("prepared_statement_cache_size", None)
    if size is not None:
        options["statement_cache_size"] = int(size)
    for own in ("prepared_statement_name_func", "async_creator_fn"):
        options.pop(own, None)
    settings = {**options.pop("server_settings", {}), "jit": "off"}
    options["server_settings"] = {**settings, "application_name": "chirp-compiled"}
    return options
