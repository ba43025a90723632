"""Onboarding staff: the single-use enrolment code an ADMIN issues. An account holding a
staff role turns on its first second factor only with one, so whoever knows the password
alone cannot enrol an authenticator of their own and act as staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import errors, policies, totp
from models.access.roles import Role
from models.access.tables import TotpCredential, TotpEnrolmentCode
from models.accounts.tables import Account
from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import utcnow
from models.errors import NotAllowed, NotFound

CODE_TTL = timedelta(hours=24)
ISSUED = "totp.enrolment_code"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A new enrolment code, shown once to the ADMIN who hands it to the account's owner."""

    account_id: int
    code: str
    expires_at: datetime


async def issue_enrolment_code(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: frozenset[Role],
    account_id: int,
    reason: str | None,
    operator: bool = False,
) -> IssuedCode:
    """Issue the code an account (holding a staff role, or about to) enrols its first second
    factor with: only an ADMIN may (or an operator at the command line), never for their own
    account; it expires after `CODE_TTL`, and replaces any unused one. Audited, not the code."""
    reason = audit.require_reason(reason)
    if not operator and not policies.may_manage_roles(actor_roles):
        raise NotAllowed("Only an ADMIN issues enrolment codes.")
    if not operator and actor.account_id == account_id:
        raise errors.SelfEscalation("Nobody issues their own enrolment code; ask another ADMIN.")
    if await session.get(Account, account_id, with_for_update={"key_share": True}) is None:
        raise NotFound("No such account.", field="accountId")
    enabled = await session.scalar(
        select(TotpCredential.enabled_at).where(TotpCredential.account_id == account_id)
    )
    if enabled is not None:
        raise errors.TotpAlreadyEnabled("That account already has two-factor authentication on.")
    await session.execute(
        delete(TotpEnrolmentCode).where(
            TotpEnrolmentCode.account_id == account_id, TotpEnrolmentCode.used_at.is_(None)
        )
    )
    code, now = totp.new_code(), utcnow()
    row = TotpEnrolmentCode(
        account_id=account_id,
        code_hash=totp.code_digest(code),
        issued_by_id=actor.account_id,
        expires_at=now + CODE_TTL,
        created_at=now,
    )
    session.add(row)
    await session.flush()  # every change before the audit entry (and its lock)
    await audit.record_entry(
        session,
        actor=actor,
        action=ISSUED,
        target_type="account",
        target_id=account_id,
        reason=reason,
        after={"code_id": row.id, "expires_at": row.expires_at.isoformat()},
    )
    return IssuedCode(account_id=account_id, code=code, expires_at=row.expires_at)


async def redeem(
    session: AsyncSession, *, account_id: int, staff: bool, code: str | None
) -> int | None:
    """The enrolment code that vouches for an enrolment starting now, used up; None when the
    account holds no staff role and sent none. A staff account must send one."""
    if not code:
        if staff:
            raise errors.EnrolmentCodeRequired(
                "A staff account turns on two-factor authentication with the enrolment code "
                "an ADMIN issued for it.",
                field="enrolmentCode",
            )
        return None
    now = utcnow()
    row = await session.scalar(
        select(TotpEnrolmentCode)
        .where(
            TotpEnrolmentCode.code_hash == totp.code_digest(code),
            TotpEnrolmentCode.account_id == account_id,
            TotpEnrolmentCode.used_at.is_(None),
            TotpEnrolmentCode.expires_at > now,
        )
        .with_for_update()
    )
    if row is None:
        raise errors.InvalidEnrolmentCode(
            "That enrolment code is wrong, used or expired; ask an ADMIN for a new one.",
            field="enrolmentCode",
        )
    row.used_at = now
    return row.id
