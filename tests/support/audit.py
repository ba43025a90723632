"""Reading the audit log straight from the database, to assert what was recorded."""

from __future__ import annotations

from sqlalchemy import select

from app.runtime import Services
from models.audit.tables import AuditEntry


async def audit_entries(services: Services, *, action: str | None = None) -> list[AuditEntry]:
    """Entries in chain order, optionally only those of one action."""
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    async with services.runtime.read_sessionmaker() as session:
        return list(await session.scalars(stmt))
