"""What the process can say about its dependencies: readiness checks, the outbox and job
queue backlogs, pool use and versions. Read by /readyz, /metrics and `systemStatus`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from taskiq import AsyncBroker

from app import db
from app.settings import Settings
from models.base import utcnow
from models.events import jobs as ledger
from models.events.tables import Event
from resolvers.status import Status
from subscriptions.backend import ResilientRedisBackend
from subscriptions.hub import Hub
from telemetry import metrics
from telemetry.redis import redis_call

CHECK_TIMEOUT = 2.0
COUNT_CAP = 100_000  # backlogs are counted up to this, so a huge one stays cheap to scrape


@dataclass(frozen=True)
class OutboxState:
    unnumbered: int
    unprocessed: int
    oldest_pending: datetime | None

    @property
    def oldest_pending_age(self) -> float:
        if self.oldest_pending is None:
            return 0.0
        return max(0.0, (utcnow() - self.oldest_pending).total_seconds())


def create_probe_engine(settings: Settings, engine: AsyncEngine) -> AsyncEngine:
    """A small engine of its own for the readiness checks, so a pool busy with slow
    requests does not make the instance look unready (and the load balancer drop it): one
    connection kept, one more at most, given up after CHECK_TIMEOUT. An in-memory SQLite
    database exists only in its engine's connections, so it shares the app's engine."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and (
        url.database in (None, "", ":memory:") or "mode=memory" in str(url)
    ):
        return engine
    options: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        options["connect_args"] = {
            "timeout": CHECK_TIMEOUT,
            "server_settings": {"jit": "off", "application_name": "chirp-probes"},
        }
    return create_async_engine(
        settings.database_url,
        hide_parameters=True,
        pool_size=1,
        max_overflow=1,
        pool_timeout=CHECK_TIMEOUT,
        pool_recycle=1800,
        # A probe every few seconds can afford a ping; without it the first check after a
        # database restart fails on the connection the restart killed.
        pool_pre_ping=True,
        **options,
    )


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


class Probes:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        read_sessionmaker: async_sessionmaker[AsyncSession],
        broker: AsyncBroker,
        redis_backend: ResilientRedisBackend | None,
        hub: Hub,
    ) -> None:
        self.settings = settings
        self.engine = engine  # the app's: its pool is reported, never used for checks
        self.check_engine = create_probe_engine(settings, engine)
        self.read_sessionmaker = read_sessionmaker
        self.broker = broker
        self.redis_backend = redis_backend
        self.hub = hub
        self.started = time.time()
        self.draining = False
        self._redis: Redis | None = None
        if settings.redis_url:
            self._redis = Redis.from_url(settings.redis_url, socket_timeout=CHECK_TIMEOUT)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
        if self.check_engine is not self.engine:
            await self.check_engine.dispose()

    async def system_status(self) -> Status:
        """What this process sees of itself and its dependencies, now (`systemStatus`)."""
        outbox = await self.outbox()
        backend = self.redis_backend
        return Status(
            versions=describe_build(),
            database_version=await self.database_version(),
            migration_current=await db.current_revision(self.engine),
            migration_head=db.head_revision(),
            job_queue_depth=await self.queue_depth(),
            outbox_unnumbered=outbox.unnumbered,
            outbox_unprocessed=outbox.unprocessed,
            outbox_lag_seconds=outbox.oldest_pending_age,
            redis_connected=None if backend is None else backend.connected,
            subscriptions=self.hub.listener_count,
            draining=self.draining,
            uptime_seconds=time.time() - self.started,
            process_id=os.getpid(),
        )

    async def readiness(self) -> dict[str, bool]:
        """Database, migrations at head and (when configured) Redis, each within 2 s. The
        database checks use the probes' own connection, not the app's pool."""
        checks: dict[str, bool] = {}
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                async with self.check_engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
                checks["database"] = True
                current = await db.current_revision(self.check_engine)
                checks["migrations"] = current == db.head_revision()
        except Exception:
            checks["database"] = checks["migrations"] = False
        if self.redis_backend is not None:
            alive = await self.redis_backend.ping(timeout=CHECK_TIMEOUT)
            checks["redis"] = alive and self.redis_backend.connected
        return checks

    async def outbox(self) -> OutboxState:
        async with self.read_sessionmaker() as session:
            unnumbered = await _count(session, Event.seq.is_(None))
            unprocessed = await _count(
                session, Event.seq.is_not(None), Event.processed_at.is_(None)
            )
            oldest = [
                await session.scalar(
                    select(Event.created_at).where(Event.seq.is_(None)).order_by(Event.id).limit(1)
                ),
                await session.scalar(
                    select(Event.created_at)
                    .where(Event.seq.is_not(None), Event.processed_at.is_(None))
                    .order_by(Event.seq)
                    .limit(1)
                ),
            ]
        times = [t for t in oldest if t is not None]
        return OutboxState(unnumbered, unprocessed, min(times) if times else None)

    async def queue_depth(self) -> int:
        """Jobs waiting or running unacknowledged: the Redis stream group's lag plus its
        pending entries, or the embedded broker's running tasks."""
        if self._redis is None:
            return len(getattr(self.broker, "_running_tasks", ()))
        stream = f"{self.settings.redis_prefix}:jobs"
        group = f"{self.settings.redis_prefix}:workers"
        groups: list[dict[Any, Any]] = []
        with contextlib.suppress(Exception), redis_call("queue_depth"):
            groups = await self._redis.xinfo_groups(stream)
        for info in groups:
            name = info.get("name") or info.get(b"name")
            if (name.decode() if isinstance(name, bytes) else name) == group:
                return int(info.get("lag") or 0) + int(info.get("pending") or 0)
        return 0

    def pool(self) -> dict[str, int]:
        pool: Any = self.engine.pool
        counts = {"checked_out": 0, "idle": 0, "overflow": 0}
        for state, method in (("checked_out", "checkedout"), ("idle", "checkedin")):
            if hasattr(pool, method):
                counts[state] = int(getattr(pool, method)())
        if hasattr(pool, "overflow"):
            counts["overflow"] = max(0, int(pool.overflow()))
        return counts

    async def database_version(self) -> str:
        async with self.check_engine.connect() as conn:
            if self.check_engine.dialect.name == "postgresql":
                row = await conn.scalar(text("SHOW server_version"))
                return f"PostgreSQL {row}"
            return f"SQLite {await conn.scalar(text('SELECT sqlite_version()'))}"

    async def refresh_gauges(self) -> None:
        """Set the gauges read at scrape time; each part fails on its own."""
        ready = await self.readiness()
        metrics.READY.set(1 if all(ready.values()) and not self.draining else 0)
        for state, count in self.pool().items():
            metrics.DB_POOL.labels(state).set(count)
        metrics.DB_POOL_SIZE.set(self.settings.db_pool_size)
        metrics.SUBSCRIPTIONS.set(self.hub.listener_count)
        if ready.get("database"):
            outbox = await self.outbox()
            metrics.OUTBOX_BACKLOG.labels("unnumbered").set(outbox.unnumbered)
            metrics.OUTBOX_BACKLOG.labels("unprocessed").set(outbox.unprocessed)
            metrics.OUTBOX_OLDEST_AGE.set(outbox.oldest_pending_age)
            async with self.read_sessionmaker() as session:
                jobs = await ledger.counts(session, cap=COUNT_CAP)
            metrics.JOB_LEDGER.labels("pending").set(jobs.pending)
            metrics.JOB_LEDGER.labels("parked").set(jobs.parked)
            metrics.JOB_LEDGER_OLDEST_AGE.set(jobs.oldest_pending_seconds)
        if ready.get("redis", True):
            metrics.JOB_QUEUE_DEPTH.set(await self.queue_depth())


async def _count(session: AsyncSession, *where: Any) -> int:
    capped = select(Event.id).where(*where).limit(COUNT_CAP).subquery()
    return int(await session.scalar(select(func.count()).select_from(capped)) or 0)


def describe_build() -> dict[str, str]:
    return {
        "chirp": version("chirp"),
        "python": platform.python_version(),
        "strawberry": version("strawberry-graphql"),
        "sqlalchemy": version("sqlalchemy"),
    }
