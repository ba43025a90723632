"""Reading the audit log and the outbox straight from the database, in assertions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.runtime import Services
from models.audit.tables import AuditEntry
from models.events.tables import Event


async def audit_entries(services: Services, action: str | None = None) -> list[AuditEntry]:
    """Entries in chain order, optionally only those of one action."""
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    async with services.runtime.read_sessionmaker() as session:
        return list(await session.scalars(stmt))


async def events_of(services: Services, type: str) -> list[dict[str, Any]]:
    async with services.runtime.read_sessionmaker() as session:
        rows = await session.scalars(select(Event).where(Event.type == type).order_by(Event.id))
        return [row.payload for row in rows]
