"""Suspensions whose end has passed: read-time checks already ignore them
(`policies.suspension_in_force`); lifting them here makes the record say so, with the
strike closed as EXPIRED and an audit entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account
from models.audit import actions as audit
from models.audit.actions import Actor
from models.events import actions as events
from models.moderation.kinds import Action, LiftCause
from models.moderation.tables import Strike

SWEEP_BATCH = 100


@dataclass(frozen=True, slots=True)
class Expiry:
    """What clearing one run-out suspension changed, for its audit entry."""

    account_id: int
    until: datetime | None
    strike_ids: list[int]


async def clear_expired_suspension(
    session: AsyncSession, *, account: Account, now: datetime
) -> Expiry:
    """Record that a locked account's suspension ran out: clear it, close its strikes as
    EXPIRED. The caller writes the audit entry (`record_expiry`) after its other changes."""
    until = account.suspended_until
    account.suspended_at, account.suspended_until = None, None
    events.record_credentials_changed(
        session, account_id=account.id, kind=events.CredentialChange.SUSPENSION
    )
    strikes = await session.scalars(
        select(Strike)
        .where(
            Strike.account_id == account.id,
            Strike.action == Action.SUSPEND_ACCOUNT.value,
            Strike.lifted_at.is_(None),
        )
        .with_for_update(key_share=True)
    )
    ids = []
    for strike in strikes:
        strike.lifted_at, strike.lift_cause = now, LiftCause.EXPIRED.value
        ids.append(strike.id)
    return Expiry(account_id=account.id, until=until, strike_ids=ids)


async def record_expiry(session: AsyncSession, expiry: Expiry, *, actor: Actor) -> None:
    """The audit entry of a cleared suspension. It takes the audit lock, so it comes after
    every data change of the transaction."""
    await session.flush()
    await audit.record_entry(
        session,
        actor=actor,
        action="moderation.expire_suspension",
        target_type="account",
        target_id=expiry.account_id,
        reason="The suspension reached its end.",
        before={"suspended_until": None if expiry.until is None else expiry.until.isoformat()},
        after={"suspended": False, "strike_ids": expiry.strike_ids},
    )


def _expired(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Account.suspended_at.is_not(None),
        Account.suspended_until.is_not(None),
        Account.suspended_until <= now,
    ]


async def any_expired_suspension(session: AsyncSession, *, now: datetime) -> bool:
    found = await session.scalar(select(Account.id).where(*_expired(now)).limit(1))
    return found is not None


async def lift_expired_suspensions(
    session: AsyncSession, *, now: datetime, actor: Actor, limit: int = SWEEP_BATCH
) -> int:
    """Lift suspensions whose end has passed, with their audit entries; rows another sweep
    holds are skipped, so several processes may sweep at once."""
    due = await session.scalars(
        select(Account)
        .where(*_expired(now))
        .order_by(Account.id)
        .limit(limit)
        .with_for_update(key_share=True, skip_locked=True)
    )
    cleared = [
        await clear_expired_suspension(session, account=account, now=now) for account in list(due)
    ]
    for expiry in cleared:  # every change first: the audit lock is the last one taken
        await record_expiry(session, expiry, actor=actor)
    await session.flush()
    return len(cleared)
