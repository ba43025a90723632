"""Access use cases: grant and revoke roles, enrol in TOTP, prove a second factor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import enrolment, errors, notices, policies, totp
from models.access.roles import STAFF_ROLES, Role, parse_roles
from models.access.tables import AccountRole, RecoveryCode, TotpCredential
from models.accounts.tables import Account, LoginSession
from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import utcnow
from models.errors import DomainError, NotAllowed, NotFound
from models.events import actions as events


async def roles_of(session: AsyncSession, *, account_id: int) -> frozenset[Role]:
    """The roles an account holds, USER included."""
    names = await session.scalars(
        select(AccountRole.role).where(AccountRole.account_id == account_id)
    )
    return parse_roles(names)


def _staff_role(name: str) -> Role:
    try:
        role = Role(name)
    except ValueError:
        role = Role.USER
    if role not in STAFF_ROLES:
        raise errors.InvalidRole(
            f"Roles that can be granted: {', '.join(sorted(r.value for r in STAFF_ROLES))}.",
            field="role",
        )
    return role


async def _target(session: AsyncSession, account_id: int) -> Account:
    account = await session.get(Account, account_id, with_for_update={"key_share": True})
    if account is None:
        raise NotFound("No such account.", field="accountId")
    return account


async def change_role(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: frozenset[Role],
    account_id: int,
    role: str,
    grant: bool,
    reason: str | None,
    operator: bool = False,
) -> frozenset[Role]:
    """Grant or revoke one staff role; only an ADMIN may (or an operator at the command
    line), never on their own account. Returns the account's roles after the change."""
    reason = audit.require_reason(reason)
    wanted = _staff_role(role)
    if not operator and not policies.may_manage_roles(actor_roles):
        raise NotAllowed("Only an ADMIN grants or revokes roles.")
    if not operator and actor.account_id == account_id:
        raise errors.SelfEscalation("Nobody changes their own roles; ask another ADMIN.")
    target = await _target(session, account_id)
    before = await roles_of(session, account_id=account_id)
    if not operator:
        policies.check_may_act_on(actor_roles, before)
    if grant and wanted not in before:
        now = utcnow()
        session.add(
            AccountRole(
                account_id=account_id,
                role=wanted.value,
                granted_by_id=actor.account_id,
                created_at=now,
            )
        )
        await notices.role_granted(session, account=target, role=wanted.value, at=now)
    elif not grant and wanted in before:
        if wanted is Role.ADMIN and await _admin_count(session) <= 1:
            raise errors.LastAdmin("That is the last ADMIN; grant ADMIN to someone else first.")
        await session.execute(
            delete(AccountRole).where(
                AccountRole.account_id == account_id, AccountRole.role == wanted.value
            )
        )
    else:
        return before  # already so: a retry changes nothing and is not audited twice
    events.record_credentials_changed(
        session, account_id=account_id, kind=events.CredentialChange.ROLE
    )
    await session.flush()
    after = await roles_of(session, account_id=account_id)
    await audit.record_entry(
        session,
        actor=actor,
        action="role.grant" if grant else "role.revoke",
        target_type="account",
        target_id=account_id,
        reason=reason,
        before={"roles": sorted(r.value for r in before)},
        after={"roles": sorted(r.value for r in after)},
    )
    return after


async def _admin_count(session: AsyncSession) -> int:
    """How many ADMINs there are, with their rows locked: two ADMINs revoking each other
    at once are serialised here, so the second sees the first's change."""
    rows = await session.scalars(
        select(AccountRole.account_id).where(AccountRole.role == Role.ADMIN.value).with_for_update()
    )
    return len(list(rows))


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    uri: str


async def totp_enabled(session: AsyncSession, *, account_id: int) -> bool:
    enabled = await session.scalar(
        select(TotpCredential.enabled_at).where(TotpCredential.account_id == account_id)
    )
    return enabled is not None


async def begin_totp_enrolment(
    session: AsyncSession, *, account: Account, enrolment_code: str | None = None
) -> Enrolment:
    """A new secret for the owner's authenticator app; it counts once a code proves it. An
    account holding a staff role needs the enrolment code an ADMIN issued for it."""
    credential = await session.get(TotpCredential, account.id, with_for_update=True)
    if credential is not None and credential.enabled_at is not None:
        raise errors.TotpAlreadyEnabled("Two-factor authentication is already on.")
    staff = policies.is_staff(await roles_of(session, account_id=account.id))
    vouched = await enrolment.redeem(
        session, account_id=account.id, staff=staff, code=enrolment_code
    )
    secret = totp.new_secret()
    if credential is None:
        session.add(TotpCredential(account_id=account.id, secret=secret, enrolment_code_id=vouched))
    else:
        credential.secret, credential.last_step = secret, 0
        credential.enrolment_code_id = vouched
    await session.flush()
    return Enrolment(secret=secret, uri=totp.provisioning_uri(secret, handle=account.handle))


async def confirm_totp_enrolment(
    session: AsyncSession, *, account_id: int, session_id: int, code: str
) -> list[str]:
    """Turn TOTP on with a first code; returns ten recovery codes (shown once). The
    current session counts as having proved a second factor, and the owner is told by
    email. An enrolment begun without an enrolment code does not finish once the account
    holds a staff role (one granted meanwhile)."""
    credential = await session.get(TotpCredential, account_id, with_for_update=True)
    if credential is None or credential.enabled_at is not None:
        raise errors.TotpNotEnrolled("Start enrolment first (beginTotpEnrolment).")
    if credential.enrolment_code_id is None and policies.is_staff(
        await roles_of(session, account_id=account_id)
    ):
        raise errors.EnrolmentCodeRequired(
            "A staff role was granted since this enrolment began: begin again with the "
            "enrolment code an ADMIN issued for the account.",
            field="enrolmentCode",
        )
    step = totp.matching_step(credential.secret, code)
    if step is None:
        raise errors.InvalidTotpCode("That code is wrong or expired.", field="code")
    now = utcnow()
    credential.enabled_at, credential.last_step = now, step
    codes = await _replace_recovery_codes(session, account_id=account_id)
    await mark_second_factor(session, session_id=session_id)
    account = await session.get(Account, account_id)
    assert account is not None
    await notices.second_factor_enrolled(session, account=account, at=now)
    return codes


async def _replace_recovery_codes(session: AsyncSession, *, account_id: int) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
    codes = totp.new_recovery_codes()
    session.add_all(
        RecoveryCode(account_id=account_id, code_hash=totp.code_digest(c)) for c in codes
    )
    await session.flush()
    return codes


async def mark_second_factor(session: AsyncSession, *, session_id: int) -> None:
    await session.execute(
        update(LoginSession).where(LoginSession.id == session_id).values(second_factor_at=utcnow())
    )


# Wrong second factors allowed per account in a window before log-in is refused outright:
# three codes in a million are accepted at any moment, so guessing must stay slow. The count
# lives on the credential row, changed under its lock and committed even when the code was
# wrong, so concurrent guesses are counted one by one.
MAX_FAILED_FACTORS = 10
FAILED_FACTOR_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class FactorCheck:
    """What a second-factor check found: `proved` (False when the account has no TOTP), or a
    `refusal` the caller raises AFTER committing, so the failure stays counted."""

    proved: bool
    refusal: DomainError | None = None


def _refuse(credential: TotpCredential, now: datetime, error: DomainError) -> FactorCheck:
    if credential.failed_since is None:
        credential.failed_since = now
    credential.failed_attempts += 1
    return FactorCheck(proved=False, refusal=error)


async def prove_second_factor(
    session: AsyncSession, *, account_id: int, code: str | None, recovery_code: str | None
) -> FactorCheck:
    """Check `code` (a TOTP code not used before) or an unused recovery code for an account
    with TOTP on; wrong ones are counted, and past the limit even a right one is refused."""
    credential = await session.get(TotpCredential, account_id, with_for_update=True)
    if credential is None or credential.enabled_at is None:
        return FactorCheck(proved=False)
    now = utcnow()
    window_start = now - FAILED_FACTOR_WINDOW
    if credential.failed_since is not None and credential.failed_since <= window_start:
        credential.failed_attempts, credential.failed_since = 0, None
    if credential.failed_attempts >= MAX_FAILED_FACTORS:
        too_many = errors.TooManyAttempts(
            "Too many wrong codes: wait 15 minutes, or ask support to check the account.",
            field="totpCode",
        )
        return FactorCheck(proved=False, refusal=too_many)
    if code:
        step = totp.matching_step(credential.secret, code)
        if step is None:
            wrong = errors.InvalidTotpCode("That code is wrong or expired.", field="totpCode")
            return _refuse(credential, now, wrong)
        if step <= credential.last_step:
            reused = errors.TotpCodeReused(
                "That code was already used; wait for the next one.", field="totpCode"
            )
            return _refuse(credential, now, reused)
        credential.last_step = step
    elif recovery_code:
        used = await session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.account_id == account_id,
                RecoveryCode.code_hash == totp.code_digest(recovery_code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
        )
        if not getattr(used, "rowcount", 0):
            wrong = errors.InvalidTotpCode(
                "That recovery code is wrong or was used.", field="recoveryCode"
            )
            return _refuse(credential, now, wrong)
    else:
        missing = errors.SecondFactorRequired(
            "This account uses two-factor authentication: send totpCode or recoveryCode.",
            field="totpCode",
        )
        return FactorCheck(proved=False, refusal=missing)
    credential.failed_attempts, credential.failed_since = 0, None
    return FactorCheck(proved=True)


async def disable_totp(
    session: AsyncSession, *, account_id: int, roles: frozenset[Role], code: str
) -> DomainError | None:
    """Turn TOTP off with a current code; staff cannot, their roles require it. A wrong code
    is returned (and counted), for the caller to raise after committing the count."""
    if policies.is_staff(roles):
        raise errors.StaffNeedsTotp("Staff accounts must keep two-factor authentication on.")
    check = await prove_second_factor(session, account_id=account_id, code=code, recovery_code=None)
    if check.refusal is not None:
        return check.refusal
    if not check.proved:
        raise errors.TotpNotEnrolled("Two-factor authentication is not on.")
    await session.execute(delete(TotpCredential).where(TotpCredential.account_id == account_id))
    await session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
    # No session may go on counting as having proved a factor that no longer exists: a role
    # granted later must not take effect in it.
    await session.execute(
        update(LoginSession)
        .where(LoginSession.account_id == account_id)
        .values(second_factor_at=None)
    )
    events.record_credentials_changed(
        session, account_id=account_id, kind=events.CredentialChange.SECOND_FACTOR
    )
    return None


async def unused_recovery_codes(session: AsyncSession, *, account_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )
