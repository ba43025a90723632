"""What the process reports of itself to admins (`systemStatus`), and the one thing the glue
needs from the composition root to read it: a `StatusSource` (`app.probes.Probes`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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


class StatusSource(Protocol):
    async def system_status(self) -> Status:
        """What this process sees of itself and its dependencies, now."""
        ...
