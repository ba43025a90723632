"""Operations read-outs for admins: the process's system status and operation costs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from app import db
from app.probes import describe_build
from resolvers.context import Context
from resolvers.paging import check_first
from telemetry.costs import COSTS, OperationCost


@dataclass(frozen=True)
class Status:
    versions: dict[str, str]
    database_version: str
    migration_current: str | None
    migration_head: str | None
    job_queue_depth: int
    outbox_unnumbered: int
    outbox_unprocessed: int
    outbox_lag_seconds: float
    redis_connected: bool | None
    subscriptions: int
    draining: bool
    uptime_seconds: float
    process_id: int


async def system_status(ctx: Context) -> Status:
    """What this process sees of itself and its dependencies, now."""
    probes = ctx.runtime.probes
    assert probes is not None, "the runtime is built with its probes"
    outbox = await probes.outbox()
    backend = probes.redis_backend
    return Status(
        versions=describe_build(),
        database_version=await probes.database_version(),
        migration_current=await db.current_revision(probes.engine),
        migration_head=db.head_revision(),
        job_queue_depth=await probes.queue_depth(),
        outbox_unnumbered=outbox.unnumbered,
        outbox_unprocessed=outbox.unprocessed,
        outbox_lag_seconds=outbox.oldest_pending_age,
        redis_connected=None if backend is None else backend.connected,
        subscriptions=ctx.runtime.hub.listener_count,
        draining=probes.draining,
        uptime_seconds=time.time() - probes.started,
        process_id=os.getpid(),
    )


def operation_costs(*, first: int) -> list[OperationCost]:
    """The operations that took the most time in this process, most first."""
    return COSTS.top(check_first(first))
