"""The back office at the command line: `chirp admin grant-role|revoke-role` (bootstraps the
first ADMIN) and `chirp audit verify|prune`. Each is audited like any staff action."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.access import actions as access
from models.access.roles import Role
from models.accounts import actions as accounts
from models.audit import actions as audit
from models.audit.actions import Actor
from models.audit.verify import Report, verify_chain
from models.base import utcnow
from models.errors import NotFound

OPERATOR = Actor.system("cli")


async def change_role(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    handle: str,
    role: str,
    reason: str,
    grant: bool,
) -> frozenset[Role]:
    """Grant or revoke a role as the operator (no ADMIN needed: this is how the first one
    is made); recorded in the audit log as `system:cli`."""
    async with sessionmaker() as session, session.begin():
        account = await accounts.get_account_by_handle(session, handle=handle)
        if account is None:
            raise NotFound(f"No account has the handle {handle!r}.", field="handle")
        return await access.change_role(
            session,
            actor=OPERATOR,
            actor_roles=frozenset(),
            account_id=account.id,
            role=role.upper(),
            grant=grant,
            reason=reason,
            operator=True,
        )


async def verify(sessionmaker: async_sessionmaker[AsyncSession]) -> Report:
    async with sessionmaker() as session:
        return await verify_chain(session)


async def prune(sessionmaker: async_sessionmaker[AsyncSession], *, retention_days: int) -> int:
    """Remove entries older than the retention period; 0 days keeps everything."""
    if retention_days <= 0:
        return 0
    async with sessionmaker() as session, session.begin():
        return await audit.prune_entries(
            session, before=utcnow() - timedelta(days=retention_days), actor=OPERATOR
        )
