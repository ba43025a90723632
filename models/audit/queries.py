"""Reading the audit log: filtered, keyset-paged on the entry id."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit.errors import InvalidFilter
from models.audit.tables import AuditEntry
from models.base import as_utc
from models.pages import Page
from models.text import check_text

TARGET_TYPE_MAX, TARGET_ID_MAX, ACTION_MAX = 32, 64, 64


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """Entries matching every criterion given; `since` is inclusive, `until` exclusive."""

    actor_id: int | None = None
    target_type: str | None = None
    target_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def checked(self) -> EntryFilter:
        """The filter with its times in UTC, or a typed error naming the criterion at fault."""
        since, until = _utc(self.since, "since"), _utc(self.until, "until")
        if since is not None and until is not None and since >= until:
            raise InvalidFilter("`since` must be before `until`.", field="since")
        if self.target_id is not None and self.target_type is None:
            raise InvalidFilter("Filter by targetType to filter by targetId.", field="targetId")
        for name, text, limit in (
            ("targetType", self.target_type, TARGET_TYPE_MAX),
            ("targetId", self.target_id, TARGET_ID_MAX),
            ("action", self.action, ACTION_MAX),
        ):
            if text is not None and not 0 < len(text) <= limit:
                raise InvalidFilter(f"`{name}` is 1 to {limit} characters.", field=name)
            if text is not None:
                check_text(text, field=name)
        return replace(self, since=since, until=until)

    def apply(self, stmt: Select[AuditEntry]) -> Select[AuditEntry]:
        if self.actor_id is not None:
            stmt = stmt.where(AuditEntry.actor_id == self.actor_id)
        if self.target_type is not None:
            stmt = stmt.where(AuditEntry.target_type == self.target_type)
        if self.target_id is not None:
            stmt = stmt.where(AuditEntry.target_id == self.target_id)
        if self.action is not None:
            stmt = stmt.where(AuditEntry.action == self.action)
        if self.since is not None:
            stmt = stmt.where(AuditEntry.created_at >= self.since)
        if self.until is not None:
            stmt = stmt.where(AuditEntry.created_at < self.until)
        return stmt


def _utc(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else as_utc(value, field=name, error=InvalidFilter)


async def entries_page(
    session: AsyncSession, *, filter: EntryFilter, first: int, before: int | None
) -> Page[AuditEntry]:
    """Entries matching `filter`, newest first."""
    stmt = filter.apply(select(AuditEntry))
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    rows = list(await session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(first + 1)))
    return Page(items=[(e.id, e) for e in rows[:first]], has_next=len(rows) > first)


async def entries_after(
    session: AsyncSession, *, filter: EntryFilter, limit: int, after: int | None
) -> Page[AuditEntry]:
    """Entries matching `filter`, oldest first (the chain's order), for exports."""
    stmt = filter.apply(select(AuditEntry))
    if after is not None:
        stmt = stmt.where(AuditEntry.id > after)
    rows = list(await session.scalars(stmt.order_by(AuditEntry.id).limit(limit + 1)))
    return Page(items=[(e.id, e) for e in rows[:limit]], has_next=len(rows) > limit)
