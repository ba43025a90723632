"""CSV exports for ADMIN staff: accounts, in chunks, each chunk audited with its filter."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models.access.roles import Role
from models.errors import InvalidInput
from models.integrations.exports import COLUMNS, MAX_ROWS
from models.integrations.specs import AccountExportSpec
from resolvers import integrations as resolvers
from resolvers.context import Info
from resolvers.paging import BadUserInput, decode_cursor, encode_cursor
from schema.core.errors import INPUT, ValidationError
from schema.core.permissions import requires_role
from schema.core.results import mutation, outcome


@strawberry.input(description="Which accounts to export, and why.")
class ExportAccountsInput:
    reason: str = strawberry.field(description="Why, for the audit log: 3 to 1000 characters.")
    created_after: datetime | None = strawberry.field(
        default=None,
        description="Only accounts created at or after this time (with a time zone).",
    )
    created_before: datetime | None = strawberry.field(
        default=None,
        description="Only accounts created before this time; later than `createdAfter`.",
    )
    first: int = strawberry.field(
        default=MAX_ROWS, description=f"How many rows in this chunk: 1 to {MAX_ROWS}."
    )
    after: str | None = strawberry.field(
        default=None,
        description="The `endCursor` of the previous chunk, to continue; null for the first.",
    )

    def to_spec(self) -> AccountExportSpec:
        """The chunk as the domain takes it; a cursor this API did not issue is invalid."""
        try:
            after_id = decode_cursor(self.after)
        except BadUserInput as err:
            raise InvalidInput(err.message, field="after") from err
        return AccountExportSpec(
            reason=self.reason,
            first=self.first,
            after_id=after_id,
            created_after=self.created_after,
            created_before=self.created_before,
        )


@strawberry.type(description="A chunk of the accounts export, as CSV.")
class AccountExport:
    csv: str = strawberry.field(
        description="RFC 4180 CSV, CRLF line ends. The first chunk starts with the header "
        "row and later chunks do not, so chunks concatenate into one file. Cells starting "
        "with = + - @, tab or carriage return are prefixed with ' so spreadsheets show them "
        "as text."
    )
    columns: list[str] = strawberry.field(
        description="The columns, in order: " + ", ".join(COLUMNS) + " (docs/admin.md)."
    )
    row_count: int = strawberry.field(description=f"Rows in this chunk: at most {MAX_ROWS}.")
    has_more: bool = strawberry.field(description="True when another chunk follows.")
    end_cursor: str | None = strawberry.field(
        description="Pass it as `after` to get the next chunk; null when this one is empty."
    )


ExportAccountsResult = Annotated[AccountExport | ValidationError, outcome("exportAccounts")]


@strawberry.type
class ExportMutations:
    @mutation(
        description=f"Export accounts (oldest first) as CSV, at most {MAX_ROWS} rows per "
        "call; follow `endCursor` while `hasMore`. Contains email addresses: each call is "
        "audited with the reason, the filter and the row count.",
        extensions=requires_role(Role.ADMIN),
    )
    async def export_accounts(
        self, info: Info, input: Annotated[ExportAccountsInput, INPUT]
    ) -> ExportAccountsResult:
        chunk = await resolvers.export_accounts(info.context, spec=input.to_spec())
        return AccountExport(
            csv=chunk.csv,
            columns=list(COLUMNS),
            row_count=chunk.rows,
            has_more=chunk.has_more,
            end_cursor=None if chunk.last_id is None else encode_cursor(chunk.last_id),
        )
