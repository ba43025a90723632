"""Accounts' registrations: the accounts-by-id loader and the accounts' error codes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import errors, tables
from models.accounts.tables import Account
from models.registry import Domain, Loader


async def accounts_by_id(
    session: AsyncSession, ids: list[int], _viewer_id: int | None
) -> dict[int, Account]:
    """The accounts with these ids (any viewer may load an account's public fields)."""
    rows = await session.scalars(select(Account).where(Account.id.in_(ids)))
    return {row.id: row for row in rows}


DOMAIN = Domain(
    name="accounts",
    tables=(tables,),
    error_codes=(
        errors.HandleTaken.code,
        errors.EmailTaken.code,
        errors.InvalidHandle.code,
        errors.InvalidEmail.code,
        errors.WeakPassword.code,
        errors.InvalidProfile.code,
    ),
    loaders={"accounts_by_id": Loader(accounts_by_id)},
)
