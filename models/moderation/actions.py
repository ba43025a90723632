"""Staff actions with a strike: hide a post, mark it sensitive, limit or suspend an account,
and lift them. Each locks the target row first (posts before accounts, then strikes, then
cases, then sessions) and writes its strike and audit entry in the caller's transaction,
the audit entry last: `record_entry` takes the audit chain's lock, so it is always the last
lock taken. Suspensions that run out are `expiry.py`."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import actions as access
from models.access.roles import Role
from models.accounts import actions as accounts
from models.accounts.tables import Account
from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import as_utc, utcnow
from models.errors import NotFound
from models.events import actions as events
from models.moderation import cases, errors, expiry, policies
from models.moderation.kinds import POST_ACTIONS, Action, LiftCause, StrikeStatus, Target
from models.moderation.specs import ActionSpec
from models.moderation.tables import Strike
from models.posts.tables import Post
from models.text import check_text

MAX_PUBLIC_REASON = 1000


async def lock_post(session: AsyncSession, post_id: int, *, live: bool = True) -> Post:
    stmt = select(Post).where(Post.id == post_id).with_for_update(key_share=True)
    if live:
        stmt = stmt.where(Post.deleted_at.is_(None))
    post = await session.scalar(stmt)
    if post is None:
        raise NotFound("No such post.", field="postId")
    return post


async def lock_account(session: AsyncSession, account_id: int) -> Account:
    account = await session.get(Account, account_id, with_for_update={"key_share": True})
    if account is None:
        raise NotFound("No such account.", field="accountId")
    return account


async def check_target(
    session: AsyncSession, *, actor: Actor, actor_roles: Collection[Role], account_id: int
) -> None:
    """Not oneself, not an account of higher rank."""
    policies.check_may_moderate(
        actor_id=actor.account_id,
        actor_roles=actor_roles,
        target_id=account_id,
        target_roles=await access.roles_of(session, account_id=account_id),
    )


def _in_force(action: Action, row: Post | Account, now: datetime) -> bool:
    if isinstance(row, Post):
        return row.hidden_at is not None if action is Action.HIDE_POST else row.sensitive
    if action is Action.LIMIT_ACCOUNT:
        return row.limited_at is not None
    return policies.suspension_in_force(row, now=now)


def _put(action: Action, row: Post | Account, now: datetime, until: datetime | None) -> None:
    if isinstance(row, Post):
        if action is Action.HIDE_POST:
            row.hidden_at = now
        else:
            row.sensitive = True
    elif action is Action.LIMIT_ACCOUNT:
        row.limited_at = now
    else:
        row.suspended_at, row.suspended_until = now, until


def _clear(action: Action, row: Post | Account) -> None:
    if isinstance(row, Post):
        if action is Action.HIDE_POST:
            row.hidden_at = None
        else:
            row.sensitive = False
    elif action is Action.LIMIT_ACCOUNT:
        row.limited_at = None
    else:
        row.suspended_at, row.suspended_until = None, None


def _public_reason(text: str | None) -> str:
    text = check_text((text or "").strip(), field="publicReason", multiline=True)
    if len(text) > MAX_PUBLIC_REASON:
        raise errors.NoteTooLong(
            f"A public reason is at most {MAX_PUBLIC_REASON} characters.", field="publicReason"
        )
    return text


def _check_until(until: datetime | None, now: datetime) -> datetime | None:
    """A suspension's end: a moment with a time zone, in the future, that UTC can hold."""
    if until is None:
        return None
    until = as_utc(until, field="until", error=errors.InvalidExpiry)
    if until <= now:
        raise errors.InvalidExpiry("A suspension ends in the future.", field="until")
    return until


async def take_action(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    spec: ActionSpec,
) -> Strike:
    """Put one action in force on a post (`target_id` a post id) or an account, with a strike
    for its owner; closes the case it answers (`case_id`, else the target's open case)."""
    action, target_id, category = spec.action, spec.target_id, spec.category
    reason = audit.require_reason(spec.reason)
    shown = _public_reason(spec.public_reason)
    now = utcnow()
    until = _check_until(spec.until, now)
    row: Post | Account
    if action in POST_ACTIONS:
        row = await lock_post(session, target_id)
        owner_id = row.author_id
    else:
        row = await lock_account(session, target_id)
        owner_id = row.id
    await check_target(session, actor=actor, actor_roles=actor_roles, account_id=owner_id)
    if _in_force(action, row, now):
        raise errors.AlreadyInForce("That action is already in force; lift it first.")
    expired = None
    if isinstance(row, Account) and action is Action.SUSPEND_ACCOUNT and row.suspended_at:
        expired = await expiry.clear_expired_suspension(session, account=row, now=now)  # unswept
    _put(action, row, now, until)
    strike = Strike(
        account_id=owner_id,
        post_id=row.id if isinstance(row, Post) else None,
        action=action.value,
        category=None if category is None else category.value,
        reason=reason,
        public_reason=shown,
        issued_by_id=actor.account_id,
        expires_at=until,
    )
    session.add(strike)
    await session.flush()
    target = Target.POST if isinstance(row, Post) else Target.ACCOUNT
    strike.case_id = await cases.resolve_case(
        session,
        actor=actor,
        case_id=spec.case_id,
        target=target,
        target_id=row.id,
        owner_id=owner_id,
    )
    _record_events(session, strike, row)
    if action is Action.SUSPEND_ACCOUNT:
        # The suspension commits with the revocation; the events close live subscriptions.
        await accounts.log_out_everywhere(session, account_id=owner_id)
        events.record_credentials_changed(
            session, account_id=owner_id, kind=events.CredentialChange.SUSPENSION
        )
    await session.flush()
    # Audit entries last: the audit lock is then the last lock this transaction takes, as in
    # every staff action (support's `endAllSessions` revokes sessions, then audits).
    if expired is not None:
        await expiry.record_expiry(session, expired, actor=actor)
    await audit.record_entry(
        session,
        actor=actor,
        action=f"moderation.{action.value.lower()}",
        target_type=target.value.lower(),
        target_id=row.id,
        reason=reason,
        before={"in_force": False},
        after={
            "in_force": True,
            "strike_id": strike.id,
            "case_id": strike.case_id,
            "until": None if until is None else until.isoformat(),
            "public_reason": policies.public_reason(strike),
        },
    )
    return strike


def _record_events(session: AsyncSession, strike: Strike, row: Post | Account) -> None:
    if isinstance(row, Post):
        events.record_event(session, type=events.POST_UPDATED, payload={"post_id": row.id})
    elif strike.action == Action.SUSPEND_ACCOUNT:
        events.record_event(
            session,
            type=events.ACCOUNT_SUSPENDED,
            payload={
                "account_id": row.id,
                "strike_id": strike.id,
                "until": None if strike.expires_at is None else strike.expires_at.isoformat(),
            },
        )
    events.record_event(
        session,
        type=events.STRIKE_ISSUED,
        payload={
            "strike_id": strike.id,
            "account_id": strike.account_id,
            "post_id": strike.post_id,
            "action": strike.action,
        },
    )


async def get_strike(session: AsyncSession, strike_id: int, *, lock: bool = False) -> Strike:
    stmt = select(Strike).where(Strike.id == strike_id)
    if lock:
        stmt = stmt.with_for_update(key_share=True)
    strike = await session.scalar(stmt)
    if strike is None:
        raise NotFound("No such strike.", field="strikeId")
    return strike


async def lock_strike_target(
    session: AsyncSession, strike_id: int
) -> tuple[Strike, Post | Account]:
    """The strike and the row it acts on, locked in the house order: target, then strike."""
    strike = await get_strike(session, strike_id)
    row: Post | Account
    if strike.post_id is not None:
        row = await lock_post(session, strike.post_id, live=False)
    else:
        row = await lock_account(session, strike.account_id)
    return await get_strike(session, strike_id, lock=True), row


def revert(
    session: AsyncSession,
    strike: Strike,
    row: Post | Account,
    *,
    cause: LiftCause,
    by: int | None,
) -> None:
    """Take a strike's action out of force: a post change reaches live subscribers, a lifted
    suspension is a change of the account's credentials."""
    _clear(Action(strike.action), row)
    strike.lifted_at, strike.lift_cause, strike.lifted_by_id = utcnow(), cause.value, by
    if isinstance(row, Post):
        events.record_event(session, type=events.POST_UPDATED, payload={"post_id": row.id})
    elif strike.action == Action.SUSPEND_ACCOUNT:
        events.record_credentials_changed(
            session, account_id=row.id, kind=events.CredentialChange.SUSPENSION
        )


async def lift_action(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    strike_id: int,
    reason: str | None,
) -> Strike:
    """Lift the action of a strike that is in force; the strike stays on record."""
    reason = audit.require_reason(reason)
    strike, row = await lock_strike_target(session, strike_id)
    await check_target(session, actor=actor, actor_roles=actor_roles, account_id=strike.account_id)
    if policies.strike_status(strike, now=utcnow()) is not StrikeStatus.IN_FORCE:
        raise errors.NotInForce("That action is no longer in force.", field="strikeId")
    revert(session, strike, row, cause=LiftCause.LIFTED, by=actor.account_id)
    await session.flush()  # every change before the audit entry (and its lock)
    await audit.record_entry(
        session,
        actor=actor,
        action="moderation.lift",
        target_type="strike",
        target_id=strike.id,
        reason=reason,
        before={"action": strike.action, "in_force": True},
        after={"action": strike.action, "in_force": False},
    )
    return strike
