"""Support use cases: end one session or every session of an account. Each checks rank
and is audited with the sessions before and after; live subscriptions of an ended session
close through the `credentials.changed` event. As in every staff action, the audit entry is
written last: `record_entry` takes the audit chain's lock, and a transaction that held it
while still changing sessions would deadlock with a suspension (account, sessions, audit)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import actions as access
from models.access import policies as access_policies
from models.access.roles import Role
from models.accounts import actions as accounts
from models.accounts.tables import LoginSession
from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import utcnow
from models.errors import NotFound

SESSION_ENDED = "session.end"
SESSIONS_ENDED = "session.end_all"


@dataclass(frozen=True, slots=True)
class EndedSessions:
    account_id: int
    session_ids: list[int]


async def _live_ids(session: AsyncSession, *, account_id: int) -> list[int]:
    ids = await session.scalars(
        select(LoginSession.id)
        .where(
            LoginSession.account_id == account_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > utcnow(),
        )
        .order_by(LoginSession.id)
    )
    return list(ids)


async def _check_rank(
    session: AsyncSession, actor_roles: Collection[Role], account_id: int
) -> None:
    target_roles = await access.roles_of(session, account_id=account_id)
    access_policies.check_may_act_on(actor_roles, target_roles)


async def end_session(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    session_id: int,
    reason: str | None,
) -> EndedSessions:
    """End one log-in session of an account that does not outrank the actor."""
    reason = audit.require_reason(reason)
    row = await session.get(LoginSession, session_id, with_for_update={"key_share": True})
    if row is None:
        raise NotFound("No such session.", field="sessionId")
    await _check_rank(session, actor_roles, row.account_id)
    before = await _live_ids(session, account_id=row.account_id)
    ended = [session_id] if session_id in before else []
    if ended:
        await accounts.log_out(session, account_id=row.account_id, session_id=session_id)
    await session.flush()  # every change before the audit entry (and its lock)
    await audit.record_entry(
        session,
        actor=actor,
        action=SESSION_ENDED,
        target_type="session",
        target_id=session_id,
        reason=reason,
        before={"account_id": row.account_id, "live_sessions": before},
        after={"account_id": row.account_id, "ended": ended},
    )
    return EndedSessions(account_id=row.account_id, session_ids=ended)


async def end_all_sessions(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    account_id: int,
    reason: str | None,
) -> EndedSessions:
    """End every live session of an account that does not outrank the actor."""
    reason = audit.require_reason(reason)
    if await accounts.get_account(session, account_id=account_id) is None:
        raise NotFound("No such account.", field="accountId")
    await _check_rank(session, actor_roles, account_id)
    before = await _live_ids(session, account_id=account_id)
    if before:
        await accounts.log_out_everywhere(session, account_id=account_id)
    await session.flush()  # every change before the audit entry (and its lock)
    await audit.record_entry(
        session,
        actor=actor,
        action=SESSIONS_ENDED,
        target_type="account",
        target_id=account_id,
        reason=reason,
        before={"live_sessions": before},
        after={"ended": before},
    )
    return EndedSessions(account_id=account_id, session_ids=before)
