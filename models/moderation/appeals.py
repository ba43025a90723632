"""Appeals: the owner of a strike appeals it once; staff uphold or overturn it, and
overturning lifts its action if it is still in force."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access.roles import Role
from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import utcnow
from models.errors import NotFound
from models.moderation import actions, cases, errors, policies
from models.moderation.kinds import AppealStatus, LiftCause
from models.moderation.tables import Appeal, Strike


async def appeal_strike(
    session: AsyncSession, *, account_id: int, strike_id: int, note: str | None
) -> tuple[Strike, Appeal]:
    """Appeal one's own strike, once, saying why."""
    note = cases.check_note(note, limit=cases.MAX_NOTE, field="note", required=True)
    strike = await session.scalar(
        select(Strike)
        .where(Strike.id == strike_id, Strike.account_id == account_id)
        .with_for_update(key_share=True)
    )
    if strike is None:
        raise NotFound("No such strike.", field="strikeId")
    if await appeal_of(session, strike_id=strike.id) is not None:
        raise errors.AlreadyAppealed("A strike can be appealed once.", field="strikeId")
    appeal = Appeal(strike_id=strike.id, account_id=account_id, note=note)
    session.add(appeal)
    await session.flush()
    return strike, appeal


async def appeal_of(session: AsyncSession, *, strike_id: int, lock: bool = False) -> Appeal | None:
    stmt = select(Appeal).where(Appeal.strike_id == strike_id)
    if lock:
        stmt = stmt.with_for_update(key_share=True)
    return await session.scalar(stmt)


async def decide_appeal(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    strike_id: int,
    overturn: bool,
    reason: str | None,
    message: str | None,
) -> tuple[Strike, Appeal]:
    """Uphold or overturn the pending appeal of a strike; `message` is shown to its owner."""
    reason = audit.require_reason(reason)
    message = cases.check_note(message, limit=cases.MAX_NOTE, field="message")
    strike, row = await actions.lock_strike_target(session, strike_id)
    await actions.check_target(
        session, actor=actor, actor_roles=actor_roles, account_id=strike.account_id
    )
    appeal = await appeal_of(session, strike_id=strike.id, lock=True)
    if appeal is None:
        raise NotFound("That strike has not been appealed.", field="strikeId")
    if appeal.status != AppealStatus.PENDING:
        raise errors.AppealDecided("That appeal was already decided.", field="strikeId")
    before = policies.strike_status(strike, now=utcnow())
    appeal.status = (AppealStatus.OVERTURNED if overturn else AppealStatus.UPHELD).value
    appeal.decided_at, appeal.decided_by_id, appeal.decision_message = (
        utcnow(),
        actor.account_id,
        message,
    )
    if overturn:
        if strike.lifted_at is None:
            # In force, or a suspension run out that no sweep has lifted yet (it still holds
            # the account's row): lift it now, as overturned, so no sweep records it EXPIRED.
            actions.revert(session, strike, row, cause=LiftCause.OVERTURNED, by=actor.account_id)
        else:  # already lifted or swept as run out: the record now says it was wrong
            strike.lift_cause = LiftCause.OVERTURNED.value
    await session.flush()  # every change before the audit entry (and its lock)
    await audit.record_entry(
        session,
        actor=actor,
        action="moderation.appeal." + ("overturn" if overturn else "uphold"),
        target_type="strike",
        target_id=strike.id,
        reason=reason,
        before={"appeal": AppealStatus.PENDING.value, "strike": before.value},
        after={
            "appeal": appeal.status,
            "strike": policies.strike_status(strike, now=utcnow()).value,
        },
    )
    return strike, appeal
