"""CSV exports of accounts for ADMIN staff, in capped chunks, each chunk audited with its
filter and row count. Cells a spreadsheet would run as a formula are neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access.roles import Role
from models.accounts.tables import Account
from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import as_utc
from models.errors import InvalidInput
from models.ids import global_id
from models.integrations import errors, policies
from models.integrations.specs import AccountExportSpec
from models.text import neutralise

MAX_ROWS = 1000
COLUMNS = (
    "id",
    "handle",
    "display_name",
    "email",
    "created_at",
    "posts_count",
    "followers_count",
    "following_count",
)


@dataclass(frozen=True, slots=True)
class ExportChunk:
    csv: str
    rows: int
    last_id: int | None
    has_more: bool


def _row(account: Account) -> list[str]:
    values = [
        global_id("Account", account.id),
        account.handle,
        account.display_name,
        account.email,
        account.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        str(account.posts_count),
        str(account.followers_count),
        str(account.following_count),
    ]
    return [neutralise(v) for v in values]


def _check(
    first: int, created_after: datetime | None, created_before: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """The window in UTC, or a typed error naming the input at fault."""
    if not 1 <= first <= MAX_ROWS:
        raise InvalidInput(f"`first` must be between 1 and {MAX_ROWS}.", field="first")
    after, before = (
        None if value is None else as_utc(value, field=name, error=errors.InvalidDateRange)
        for name, value in (("createdAfter", created_after), ("createdBefore", created_before))
    )
    if after and before and after >= before:
        raise errors.InvalidDateRange(
            "`createdAfter` must be earlier than `createdBefore`.", field="createdBefore"
        )
    return after, before


async def export_accounts(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    spec: AccountExportSpec,
) -> ExportChunk:
    """Up to `first` accounts (oldest first) created in the range, after the account
    `after_id`, as CSV; the header row comes only with the first chunk, so chunks join."""
    first, after_id = spec.first, spec.after_id
    created_after, created_before = spec.created_after, spec.created_before
    reason = audit.require_reason(spec.reason)
    policies.check(policies.may_export_accounts(actor_roles))
    created_after, created_before = _check(first, created_after, created_before)
    stmt = select(Account)
    if after_id is not None:
        stmt = stmt.where(Account.id > after_id)
    if created_after is not None:
        stmt = stmt.where(Account.created_at >= created_after)
    if created_before is not None:
        stmt = stmt.where(Account.created_at < created_before)
    found = list(await session.scalars(stmt.order_by(Account.id).limit(first + 1)))
    accounts, has_more = found[:first], len(found) > first
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if after_id is None:
        writer.writerow(COLUMNS)
    writer.writerows(_row(a) for a in accounts)
    last_id = accounts[-1].id if accounts else None
    await audit.record_entry(
        session,
        actor=actor,
        action="accounts.export",
        target_type="accounts",
        reason=reason,
        after={
            "filter": {
                "created_after": None if created_after is None else created_after.isoformat(),
                "created_before": None if created_before is None else created_before.isoformat(),
                "after_id": after_id,
                "first": first,
            },
            "rows": len(accounts),
            "columns": list(COLUMNS),
        },
    )
    return ExportChunk(csv=out.getvalue(), rows=len(accounts), last_id=last_id, has_more=has_more)
