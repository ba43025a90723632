"""Exporting the audit log in chunks (CSV or JSON lines); each chunk is itself audited."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import actions as audit
from models.audit.actions import Actor
from models.audit.chain import entry_record
from models.audit.queries import EntryFilter, entries_after
from models.audit.tables import AuditEntry
from models.errors import InvalidInput
from models.text import neutralise

EXPORT_MAX_ROWS = 5000
EXPORTED = "audit.export"
COLUMNS = (
    "id",
    "created_at",
    "actor_id",
    "actor_handle",
    "actor_roles",
    "action",
    "outcome",
    "target_type",
    "target_id",
    "reason",
    "before",
    "after",
    "request_id",
    "ip",
    "user_agent",
    "prev_hash",
    "hash",
)


class ExportFormat(Enum):
    CSV = "CSV"
    JSON_LINES = "JSON_LINES"


@dataclass(frozen=True, slots=True)
class Chunk:
    data: str
    rows: int
    last_id: int | None  # where the next chunk starts, or None when this was the last


def render(entries: list[AuditEntry], format: ExportFormat) -> str:
    """JSON lines: one object per entry, exactly as the chain hashes it. CSV: a header row,
    then one row per entry, with roles and before/after as JSON and every text cell a
    spreadsheet would run as a formula prefixed with a quote."""
    rows = [entry_record(e) for e in entries]
    if format is ExportFormat.JSON_LINES:
        return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: object) -> object:
    """A CSV cell: JSON for roles and before/after; text neutralised for spreadsheets (a
    reason, a target or a User-Agent is anyone's text, say `=HYPERLINK(...)`)."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return neutralise(value) if isinstance(value, str) else value


async def export_entries(
    session: AsyncSession,
    *,
    actor: Actor,
    filter: EntryFilter,
    format: ExportFormat,
    reason: str | None,
    after: int | None,
    limit: int,
) -> Chunk:
    """One chunk of at most `limit` entries after entry `after`, oldest first, recorded in
    the log (filter, format, position and count) in the same transaction."""
    reason = audit.require_reason(reason)
    filter = filter.checked()
    if not 1 <= limit <= EXPORT_MAX_ROWS:
        raise InvalidInput(f"`limit` is 1 to {EXPORT_MAX_ROWS} rows.", field="limit")
    page = await entries_after(session, filter=filter, limit=limit, after=after)
    entries = [e for _, e in page.items]
    last_id = entries[-1].id if entries and page.has_next else None
    await audit.record_entry(
        session,
        actor=actor,
        action=EXPORTED,
        target_type="audit_log",
        reason=reason,
        after={
            "format": format.value,
            "filter": {
                k: (v.isoformat() if hasattr(v, "isoformat") else v)
                for k, v in asdict(filter).items()
                if v is not None
            },
            "after_id": after,
            "rows": len(entries),
            "first_id": entries[0].id if entries else None,
            "last_id": entries[-1].id if entries else None,
        },
    )
    return Chunk(data=render(entries, format), rows=len(entries), last_id=last_id)
