"""Account use cases: sign up, log in and out, authenticate a token, edit a profile."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import errors, passwords, validation
from models.accounts.passwords import new_token, token_digest
from models.accounts.tables import Account, FailedLogin, LoginSession, ProfileEdit
from models.base import utcnow
from models.events import actions as events
from models.moderation import policies as moderation
from models.text import has_control_characters


@dataclass(frozen=True, slots=True)
class Authenticated:
    account: Account
    session_id: int
    second_factor: bool = False


@dataclass(frozen=True, slots=True)
class NewAccount:
    """Checked sign-up details with the password already hashed."""

    handle: str
    handle_key: str
    email: str
    password_hash: str


async def check_sign_up(
    session: AsyncSession, *, handle: str, email: str, password: str
) -> NewAccount:
    """Check sign-up details: a malformed or taken handle or email is refused here, before
    any hashing. The result has no password hash yet (see `hash_sign_up`)."""
    validation.check_handle(handle)
    email = validation.normalise_email(email)
    validation.check_password(password)
    key = validation.handle_key(handle)
    await _ensure_free(session, key=key, email=email)
    return NewAccount(handle=handle, handle_key=key, email=email, password_hash="")


async def hash_sign_up(new: NewAccount, *, hasher: PasswordHasher, password: str) -> NewAccount:
    """Hash the password off the event loop, holding no database connection or lock while
    the slow hash waits for its turn."""
    return dataclasses.replace(new, password_hash=await passwords.hash_password(hasher, password))


async def sign_up(session: AsyncSession, *, new: NewAccount) -> Account:
    """Create an account (and its `account.created` event); handles are unique
    case-insensitively and emails are normalised."""
    assert new.password_hash, "hash_sign_up first"
    await _ensure_free(session, key=new.handle_key, email=new.email)
    account = Account(
        handle=new.handle,
        handle_key=new.handle_key,
        email=new.email,
        password_hash=new.password_hash,
        display_name=new.handle,
    )
    try:
        async with session.begin_nested():
            session.add(account)
    except IntegrityError:  # a concurrent sign-up won the race between check and insert
        await _ensure_free(session, key=new.handle_key, email=new.email)
        raise
    # For integrations (outbound webhooks); never the email or anything secret.
    events.record_event(
        session,
        type=events.ACCOUNT_CREATED,
        payload={"account_id": account.id, "handle": account.handle},
    )
    return account


async def _ensure_free(session: AsyncSession, *, key: str, email: str) -> None:
    rows = await session.execute(
        select(Account.handle_key, Account.email).where(
            or_(Account.handle_key == key, Account.email == email)
        )
    )
    for row_key, row_email in rows:
        if row_key == key:
            raise errors.HandleTaken("That handle is taken.", field="handle")
        if row_email == email:
            raise errors.EmailTaken("An account already uses that email.", field="email")


async def find_login(session: AsyncSession, *, login: str) -> Account | None:
    """The account a handle or an email names, if any (none for text no account can have)."""
    login = login.strip()
    if has_control_characters(login) or len(login) > 254:
        return None
    return await session.scalar(
        select(Account).where(
            or_(Account.handle_key == login.casefold(), Account.email == login.lower())
        )
    )


async def check_credentials(
    account: Account | None, *, hasher: PasswordHasher, password: str
) -> tuple[Account, str | None]:
    """Check the password of the account `find_login` found, off the event loop and holding
    no database connection; also a fresh hash when the stored one uses weaker parameters
    than today's."""
    if account is None:
        # Hash anyway so response time does not reveal whether the account exists.
        await passwords.hash_password(hasher, password)
        raise errors.InvalidCredentials("Wrong handle, email or password.")
    if not await passwords.check_password(hasher, account.password_hash, password):
        raise errors.InvalidCredentials("Wrong handle, email or password.")
    rehashed = None
    if hasher.check_needs_rehash(account.password_hash):
        rehashed = await passwords.hash_password(hasher, password)
    return account, rehashed


async def record_log_in(
    session: AsyncSession,
    *,
    account_id: int,
    rehashed: str | None,
    ttl: timedelta,
    ip: str = "",
    user_agent: str = "",
    second_factor: bool = False,
) -> str:
    """Open the session of a checked log-in (and store an upgraded hash); returns the token."""
    if rehashed is not None:
        await session.execute(
            update(Account).where(Account.id == account_id).values(password_hash=rehashed)
        )
    return await start_session(
        session,
        account_id=account_id,
        ttl=ttl,
        ip=ip,
        user_agent=user_agent,
        second_factor=second_factor,
    )


async def start_session(
    session: AsyncSession,
    *,
    account_id: int,
    ttl: timedelta,
    ip: str,
    user_agent: str,
    second_factor: bool = False,
) -> str:
    """Open a log-in session and return its token; only the token's hash is stored."""
    token = new_token()
    session.add(
        LoginSession(
            account_id=account_id,
            token_hash=token_digest(token),
            expires_at=utcnow() + ttl,
            ip=ip[:64],
            user_agent=user_agent[:300],
            second_factor_at=utcnow() if second_factor else None,
        )
    )
    await session.flush()
    return token


async def record_failed_login(
    session: AsyncSession, *, account_id: int | None, failure: str, ip: str, user_agent: str
) -> None:
    """Keep a refused log-in for support (the public answer says nothing more than before);
    `account_id` is null when the login named no account."""
    session.add(
        FailedLogin(
            account_id=account_id, failure=failure[:64], ip=ip[:64], user_agent=user_agent[:300]
        )
    )
    await session.flush()


def session_in_force(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """A login session (joined to its account) that counts at `now`: not revoked, not
    expired, its account not suspended. Every way of finding a session uses it: a bearer
    token here, a session id (`live_session`), compiled reads (`models/timeline/lean.py`)."""
    return and_(
        LoginSession.revoked_at.is_(None),
        LoginSession.expires_at > now,
        moderation.not_suspended(now),
    )


async def authenticate(session: AsyncSession, *, token: str) -> Authenticated | None:
    """The account and session behind a bearer token, or None if unknown, expired or revoked,
    or if the account is suspended (a session that raced the suspension still fails)."""
    now = utcnow()
    row = (
        await session.execute(
            select(Account, LoginSession.id, LoginSession.second_factor_at)
            .join(LoginSession, LoginSession.account_id == Account.id)
            .where(
                LoginSession.token_hash == token_digest(token),
                session_in_force(now),
            )
        )
    ).first()
    if row is None:
        return None
    return Authenticated(account=row[0], session_id=row[1], second_factor=row[2] is not None)


async def live_session(session: AsyncSession, *, session_id: int) -> Authenticated | None:
    """A session as `authenticate` finds it, by id: None once it is revoked or expired or
    its account is suspended; else the account as it is now and whether the session still
    counts as having proved a second factor."""
    now = utcnow()
    row = (
        await session.execute(
            select(Account, LoginSession.second_factor_at)
            .join(LoginSession, LoginSession.account_id == Account.id)
            .where(
                LoginSession.id == session_id,
                session_in_force(now),
            )
        )
    ).first()
    if row is None:
        return None
    return Authenticated(account=row[0], session_id=session_id, second_factor=row[1] is not None)


async def log_out(session: AsyncSession, *, account_id: int, session_id: int) -> None:
    """Revoke one session; its live subscriptions are closed through the event."""
    await session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    events.record_credentials_changed(
        session,
        account_id=account_id,
        kind=events.CredentialChange.SESSION,
        session_ids=[session_id],
    )


async def log_out_everywhere(session: AsyncSession, *, account_id: int) -> int:
    """Revoke every session of an account; returns how many were live."""
    ids = list(
        await session.scalars(
            select(LoginSession.id).where(
                LoginSession.account_id == account_id, LoginSession.revoked_at.is_(None)
            )
        )
    )
    if ids:
        await session.execute(
            update(LoginSession).where(LoginSession.id.in_(ids)).values(revoked_at=utcnow())
        )
    events.record_credentials_changed(
        session, account_id=account_id, kind=events.CredentialChange.SESSION, session_ids=ids
    )
    return len(ids)


async def update_profile(
    session: AsyncSession,
    *,
    account: Account,
    display_name: str | None = None,
    bio: str | None = None,
    avatar_url: str | None = None,
    editor_id: int | None = None,
) -> Account:
    """Change a profile; fields left out stay as they are. Each change is kept in the
    profile's history with who made it (`editor_id`; the owner when None)."""
    validation.check_profile(display_name=display_name, bio=bio, avatar_url=avatar_url)
    wanted: dict[str, object] = {}
    if display_name is not None:
        wanted["display_name"] = display_name.strip()
    if bio is not None:
        wanted["bio"] = bio
    if avatar_url is not None:
        wanted["avatar_url"] = avatar_url or None
    changed = {k: v for k, v in wanted.items() if getattr(account, k) != v}
    if changed:
        before = {k: getattr(account, k) for k in changed}
        for name, value in changed.items():
            setattr(account, name, value)
        session.add(
            ProfileEdit(
                account_id=account.id,
                editor_id=account.id if editor_id is None else editor_id,
                before=before,
                after=changed,
            )
        )
    await session.flush()
    return account


async def profile_history(
    session: AsyncSession, *, account_id: int, limit: int
) -> list[ProfileEdit]:
    """An account's profile changes, newest first."""
    rows = await session.scalars(
        select(ProfileEdit)
        .where(ProfileEdit.account_id == account_id)
        .order_by(ProfileEdit.id.desc())
        .limit(limit)
    )
    return list(rows)


async def get_account(session: AsyncSession, *, account_id: int) -> Account | None:
    return await session.get(Account, account_id)


async def get_account_by_handle(session: AsyncSession, *, handle: str) -> Account | None:
    if not validation.HANDLE_RE.match(handle):
        return None  # no account has such a handle; and PostgreSQL refuses NUL in a query
    return await session.scalar(
        select(Account).where(Account.handle_key == validation.handle_key(handle))
    )
