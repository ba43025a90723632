"""The audit log's staff surface (AUDITOR and ADMIN): the filtered log, newest first, and
exports in chunks, each of which is itself audited."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from models.access.roles import Role
from models.audit.export import EXPORT_MAX_ROWS, ExportFormat
from models.audit.queries import EntryFilter
from models.audit.tables import AuditEntry as AuditEntryRow
from models.errors import DomainError
from resolvers import audit as resolvers
from resolvers import posts as post_resolvers
from resolvers.context import Info
from resolvers.paging import BadUserInput, encode_cursor, global_id, parse_global_id
from schema.core.checks import checked, cursor
from schema.core.errors import INPUT, ValidationError
from schema.core.paging import AFTER, Connection, First, page_of
from schema.core.permissions import RoleName, requires_role
from schema.core.results import mutation, outcome
from schema.graph.types import Account, Post

AUDIT_READERS = (Role.AUDITOR, Role.ADMIN)
DEFAULT_EXPORT_ROWS = 1000
LogAfter = Annotated[
    str | None,
    strawberry.argument(description=AFTER, metadata=checked(cursor(resolvers.LOG_CURSOR))),
]


@strawberry.input(description="Which entries to include; every criterion given must match.")
class AuditLogFilter:
    actor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only entries by this account (its global id)."
    )
    target_type: str | None = strawberry.field(
        default=None,
        description="Only entries about this kind of target (account, session, "
        "post, audit_log...); at most 32 characters.",
    )
    target_id: str | None = strawberry.field(
        default=None,
        description="Only entries about this target, as `AuditEntry.targetId` shows it; "
        "needs `targetType`.",
    )
    action: str | None = strawberry.field(
        default=None, description="Only this action, e.g. role.grant or read.email."
    )
    since: datetime | None = strawberry.field(
        default=None, description="Only entries at or after this time (with a UTC offset)."
    )
    until: datetime | None = strawberry.field(
        default=None, description="Only entries before this time (with a UTC offset)."
    )

    def to_filter(self) -> EntryFilter:
        """The domain filter; a malformed actor id is an INVALID_ID error."""
        actor_id = None
        if self.actor_id is not None:
            _, actor_id = parse_global_id(self.actor_id, expect="Account", field="actorId")
        return EntryFilter(
            actor_id=actor_id,
            target_type=self.target_type,
            target_id=self.target_id,
            action=self.action,
            since=self.since,
            until=self.until,
        )


@strawberry.type(description="One entry of the append-only, hash-chained audit log.")
class AuditEntry:
    id: strawberry.ID = strawberry.field(description="The entry's global id.")
    sequence: str = strawberry.field(
        description="The entry's number in the chain (a decimal string; numbers have no gaps)."
    )
    created_at: datetime = strawberry.field(description="When it was recorded (UTC).")
    actor_handle: str = strawberry.field(
        description="Who acted, as recorded: a handle, or system:<name> for an operator."
    )
    actor_roles: list[RoleName] = strawberry.field(
        description="The roles that counted for the actor when they acted."
    )
    action: str = strawberry.field(description="What was done, e.g. role.grant, session.end.")
    outcome: str = strawberry.field(
        description="ok, or refused:<ErrorCode> for an attempt that was refused."
    )
    target_type: str = strawberry.field(description="The kind of target, or empty.")
    target_id: str = strawberry.field(description="The target's database id, or empty.")
    reason: str = strawberry.field(description="Why, as the actor stated it.")
    before: JSON | None = strawberry.field(description="The target's state before, if any.")
    after: JSON | None = strawberry.field(description="The target's state after, if any.")
    request_id: str = strawberry.field(description="The request id of the action.")
    ip: str = strawberry.field(description="The actor's IP address.")
    user_agent: str = strawberry.field(description="The actor's User-Agent.")
    prev_hash: str = strawberry.field(description="The previous entry's hash (SHA-256, hex).")
    hash: str = strawberry.field(
        description="This entry's SHA-256 (hex) over its contents and `prevHash`."
    )
    actor_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: AuditEntryRow) -> AuditEntry:
        known = {r.value for r in Role}
        return cls(
            id=strawberry.ID(global_id("AuditEntry", row.id)),
            sequence=str(row.id),
            created_at=row.created_at,
            actor_handle=row.actor_handle,
            actor_roles=[RoleName(r) for r in sorted(row.actor_roles) if r in known],
            action=row.action,
            outcome=row.outcome,
            target_type=row.target_type,
            target_id=row.target_id,
            reason=row.reason,
            before=cast(JSON, row.before),
            after=cast(JSON, row.after),
            request_id=row.request_id,
            ip=row.ip,
            user_agent=row.user_agent,
            prev_hash=row.prev_hash,
            hash=row.hash,
            actor_id=row.actor_id,
        )

    @strawberry.field(
        description="The account that acted; null for an operator or a deleted account."
    )
    async def actor(self, info: Info) -> Account | None:
        if self.actor_id is None:
            return None
        row = await info.context.loaders.accounts_by_id.load(self.actor_id)
        return None if row is None else Account.from_row(row)

    @strawberry.field(
        description="The target when it is an account or a post that still exists and the "
        "viewer may see; otherwise null (see targetType and targetId)."
    )
    async def target(self, info: Info) -> relay.Node | None:
        if not self.target_id.isdigit():
            return None
        key = int(self.target_id)
        if self.target_type == "account":
            row = await info.context.loaders.accounts_by_id.load(key)
            return None if row is None else Account.from_row(row)
        if self.target_type == "post":
            post = await post_resolvers.post_by_id(info.context, post_id=key)
            return None if post is None else Post.from_row(post)
        return None


@page_of("audit entry", "A page of audit entries, newest first.", "The entries on this page.")
class AuditEntryConnection(Connection[AuditEntry]):
    pass


@strawberry.enum(name="AuditExportFormat", description="How an audit-log export is written.")
class AuditExportFormat(Enum):
    CSV = strawberry.enum_value(
        "CSV", description="RFC 4180 CSV with a header row; JSON in the roles and state columns."
    )
    JSON_LINES = strawberry.enum_value("JSON_LINES", description="One JSON object per line.")


@strawberry.input(description="Which entries to export, how, and why.")
class ExportAuditLogInput:
    format: AuditExportFormat = strawberry.field(description="CSV or JSON_LINES.")
    reason: str = strawberry.field(description="Why, for the audit log: 3 to 1000 characters.")
    filter: AuditLogFilter | None = strawberry.field(
        default=None, description="Which entries; all of them when omitted."
    )
    after: str | None = strawberry.field(
        default=None, description="The previous chunk's `nextCursor`, to continue an export."
    )
    limit: int = strawberry.field(
        default=DEFAULT_EXPORT_ROWS,
        description=f"At most this many entries in this chunk: 1 to {EXPORT_MAX_ROWS}.",
    )


@strawberry.type(description="One chunk of an audit-log export, oldest entry first.")
class AuditLogExport:
    format: AuditExportFormat = strawberry.field(description="How `data` is written.")
    data: str = strawberry.field(
        description="The entries: CSV (with a header row in every chunk) or JSON lines."
    )
    row_count: int = strawberry.field(description="How many entries this chunk holds.")
    next_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next chunk; null when this was the last."
    )


ExportAuditLogResult = Annotated[AuditLogExport | ValidationError, outcome("exportAuditLog")]


def _filter(value: AuditLogFilter | None) -> EntryFilter:
    return EntryFilter() if value is None else value.to_filter()


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description="The audit log, newest first, filtered. A bad filter or cursor is "
        "BAD_USER_INPUT.",
        extensions=requires_role(*AUDIT_READERS),
    )
    async def audit_log(
        self,
        info: Info,
        first: First,
        after: LogAfter = None,
        filter: Annotated[
            AuditLogFilter | None,
            strawberry.argument(description="Which entries; all of them when omitted."),
        ] = None,
    ) -> AuditEntryConnection:
        try:
            entry_filter = _filter(filter)
        except DomainError as err:
            raise BadUserInput(err.message, argument="filter.actorId") from err
        page = await resolvers.audit_log(
            info.context, filter=entry_filter, first=first, after=after
        )
        return AuditEntryConnection.from_page(
            page, AuditEntry.from_row, lambda key: encode_cursor(key, kind=resolvers.LOG_CURSOR)
        )


@strawberry.type
class AuditMutations:
    @mutation(
        description="Export audit entries in chunks (oldest first, `limit` per chunk); each "
        "chunk is recorded in the log with the reason.",
        extensions=requires_role(*AUDIT_READERS),
    )
    async def export_audit_log(
        self, info: Info, input: Annotated[ExportAuditLogInput, INPUT]
    ) -> ExportAuditLogResult:
        chunk = await resolvers.export_audit_log(
            info.context,
            filter=_filter(input.filter),
            format=ExportFormat(input.format.value),
            reason=input.reason,
            after=input.after,
            limit=input.limit,
        )
        return AuditLogExport(
            format=input.format,
            data=chunk.data,
            row_count=chunk.rows,
            next_cursor=resolvers.export_cursor(chunk),
        )
