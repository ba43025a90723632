"""Arranging accounts directly through the accounts domain, for domain-tier tests."""

from __future__ import annotations

import dataclasses

from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import actions as accounts
from models.accounts.tables import Account

# Domain tests never log in, so no real (slow) hash is needed.
NOT_A_HASH = "$argon2id$domain-tier-placeholder"


async def new_account(session: AsyncSession, handle: str) -> Account:
    """A signed-up account with `handle` and the email `<handle>@example.com`."""
    new = await accounts.check_sign_up(
        session, handle=handle, email=f"{handle}@example.com", password="correct horse battery"
    )
    new = dataclasses.replace(new, password_hash=NOT_A_HASH)
    account = await accounts.sign_up(session, new=new)
    await session.flush()
    return account
