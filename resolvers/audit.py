"""Audit-log glue: the filtered, paged log for AUDITOR and ADMIN, and audited exports."""

from __future__ import annotations

from models.audit import queries
from models.audit.errors import InvalidCursor
from models.audit.export import EXPORTED, Chunk, ExportFormat, export_entries
from models.audit.queries import EntryFilter
from models.audit.tables import AuditEntry
from models.errors import InvalidInput
from models.pages import Page
from resolvers.context import Context
from resolvers.paging import BadUserInput, check_first, decode_cursor, encode_cursor
from resolvers.staff import staff_write

LOG_CURSOR = "a1:"  # newest first, for the connection
EXPORT_CURSOR = "x1:"  # oldest first, for the next export chunk


async def audit_log(
    ctx: Context, *, filter: EntryFilter, first: int, after: str | None
) -> Page[AuditEntry]:
    check_first(first)
    before = decode_cursor(after, kind=LOG_CURSOR)
    try:
        filter = filter.checked()
    except InvalidInput as err:
        raise BadUserInput(err.message, argument=f"filter.{err.field}") from err
    async with ctx.read() as session:
        return await queries.entries_page(session, filter=filter, first=first, before=before)


def export_cursor(chunk: Chunk) -> str | None:
    return None if chunk.last_id is None else encode_cursor(chunk.last_id, kind=EXPORT_CURSOR)


async def export_audit_log(
    ctx: Context,
    *,
    filter: EntryFilter,
    format: ExportFormat,
    reason: str | None,
    after: str | None,
    limit: int,
) -> Chunk:
    async with staff_write(
        ctx, action=EXPORTED, target_type="audit_log", target_id="", reason=reason
    ) as (session, actor):
        try:
            after_id = decode_cursor(after, argument="after", kind=EXPORT_CURSOR)
        except BadUserInput as exc:
            raise InvalidCursor(exc.message, field="after") from exc
        return await export_entries(
            session,
            actor=actor,
            filter=filter,
            format=format,
            reason=reason,
            after=after_id,
            limit=limit,
        )
