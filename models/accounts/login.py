"""Logging in: the password, the account's standing, the second factor, then a session.

The password is checked on the dedicated argon2 threads (`passwords`), with no database
connection held and before the write transaction opens, so a log-in flood neither pins the
pool nor stalls the event loop. Rate limits (`login_limits`) come first: a refused attempt
checks no password. Every other refusal is recorded for support; a staff account's refused
second factor is also audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.access import actions as access
from models.access import policies as access_policies
from models.access.errors import SecondFactorRequired
from models.accounts import actions as accounts
from models.accounts.login_limits import LogInLimits
from models.accounts.tables import Account
from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import utcnow
from models.errors import DomainError
from models.moderation import policies as moderation
from models.throttle import Throttle
from models.transactions import Transactions


@dataclass(frozen=True, kw_only=True)
class LogInAttempt:
    """What the client sent, and where from (kept with the session or the refusal)."""

    login: str
    password: str
    totp_code: str | None = None
    recovery_code: str | None = None
    request_id: str = ""
    ip: str = ""
    user_agent: str = ""


async def log_in(
    transactions: Transactions,
    *,
    reads: async_sessionmaker[AsyncSession],
    hasher: PasswordHasher,
    ttl: timedelta,
    attempt: LogInAttempt,
    throttle: Throttle | None = None,
) -> tuple[Account, str]:
    """Check the attempt and open a session lasting `ttl`; returns the account and the
    session's token. A refusal is recorded (and audited for staff) before it is raised;
    one over a rate limit (`throttle`) is raised before the password is even checked."""
    async with reads() as session:
        found = await accounts.find_login(session, login=attempt.login)
    limits = None
    if throttle is not None:
        limits = LogInLimits(throttle, reads, account=found, login=attempt.login, ip=attempt.ip)
        await limits.admit()
    try:
        account, rehashed = await accounts.check_credentials(
            found, hasher=hasher, password=attempt.password
        )
    except DomainError as err:
        if limits is not None:
            await limits.failed()
        # Recorded whether or not the login named an account: the same work either way.
        await _record_failed_login(transactions, attempt, None if found is None else found.id, err)
        raise
    finally:
        if limits is not None:
            limits.done()
    if limits is not None:
        await limits.passed()
    # Only after the password: a suspension is not told to someone who does not know it.
    moderation.check_may_log_in(account, now=utcnow())
    try:
        token = await _open_session(transactions, attempt, account, rehashed, ttl)
    except DomainError as err:
        await _record_failed_login(transactions, attempt, account.id, err)
        if not isinstance(err, SecondFactorRequired):  # the normal first step of a 2FA log-in
            await _record_refused_second_factor(transactions, attempt, account, err)
        raise
    return account, token


async def check_password_again(
    *,
    reads: async_sessionmaker[AsyncSession],
    hasher: PasswordHasher,
    throttle: Throttle,
    account_id: int,
    password: str,
    ip: str,
) -> None:
    """The signed-in owner's password asked again (to turn TOTP on or off), held to the
    log-in limits on the same counters: otherwise a stolen session token would make it a
    password oracle without limits. Raises InvalidCredentials or RateLimited."""
    async with reads() as session:
        account = await accounts.get_account(session, account_id=account_id)
    login = "" if account is None else account.handle
    limits = LogInLimits(throttle, reads, account=account, login=login, ip=ip)
    await limits.admit()
    try:
        await accounts.check_credentials(account, hasher=hasher, password=password)
    except DomainError:
        await limits.failed()
        raise
    finally:
        limits.done()
    await limits.passed()


async def _open_session(
    transactions: Transactions,
    attempt: LogInAttempt,
    account: Account,
    rehashed: str | None,
    ttl: timedelta,
) -> str:
    """The second factor and the new session, in one transaction; a wrong code's count
    commits before its refusal is raised."""
    async with transactions.begin() as session:
        # Again under the account's lock: a suspension committed since the read above
        # (it updates this row) is seen here, so no session outlives it.
        current = await session.get(
            Account, account.id, with_for_update={"key_share": True}, populate_existing=True
        )
        assert current is not None
        moderation.check_may_log_in(current, now=utcnow())
        factor = await access.prove_second_factor(
            session,
            account_id=account.id,
            code=attempt.totp_code,
            recovery_code=attempt.recovery_code,
        )
        token = ""
        if factor.refusal is None:
            token = await accounts.record_log_in(
                session,
                account_id=account.id,
                rehashed=rehashed,
                ttl=ttl,
                ip=attempt.ip,
                user_agent=attempt.user_agent,
                second_factor=factor.proved,
            )
    # Raised only now: the wrong code's count had to commit first.
    if factor.refusal is not None:
        raise factor.refusal
    return token


async def _record_failed_login(
    transactions: Transactions, attempt: LogInAttempt, account_id: int | None, err: DomainError
) -> None:
    """Keep the refused attempt for support; the answer to the client does not change."""
    async with transactions.begin() as session:
        await accounts.record_failed_login(
            session,
            account_id=account_id,
            failure=err.code,
            ip=attempt.ip,
            user_agent=attempt.user_agent,
        )


async def _record_refused_second_factor(
    transactions: Transactions, attempt: LogInAttempt, account: Account, err: DomainError
) -> None:
    """A staff account's failed second factor (wrong, expired or reused code) is audited."""
    async with transactions.begin() as session:
        roles = await access.roles_of(session, account_id=account.id)
        if not access_policies.is_staff(roles):
            return
        actor = Actor(
            account_id=account.id,
            handle=account.handle,
            roles=tuple(sorted(r.value for r in roles)),
            request_id=attempt.request_id,
            ip=attempt.ip,
            user_agent=attempt.user_agent,
        )
        await audit.record_entry(
            session,
            actor=actor,
            action="auth.second_factor",
            target_type="account",
            target_id=account.id,
            outcome=f"refused:{err.code}",
        )
