"""Accounts: sign up, log in and out, the viewer, profiles."""

from __future__ import annotations

from dataclasses import dataclass

from models.access import actions as access
from models.access.roles import Role
from models.accounts import actions as accounts
from models.accounts import login as logins
from models.accounts.login import LogInAttempt
from models.accounts.tables import Account
from models.social import policies as social
from resolvers.context import Context
from telemetry import metrics


async def sign_up(ctx: Context, *, handle: str, email: str, password: str) -> tuple[Account, str]:
    async with ctx.read() as session:
        new = await accounts.check_sign_up(session, handle=handle, email=email, password=password)
    new = await accounts.hash_sign_up(new, hasher=ctx.runtime.hasher, password=password)
    async with ctx.write() as session:
        account = await accounts.sign_up(session, new=new)
        token = await accounts.start_session(
            session,
            account_id=account.id,
            ttl=ctx.settings.session_ttl,
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
    metrics.SIGNUPS.inc()
    return account, token


async def log_in(
    ctx: Context,
    *,
    login: str,
    password: str,
    totp_code: str | None = None,
    recovery_code: str | None = None,
) -> tuple[Account, str]:
    attempt = LogInAttempt(
        login=login,
        password=password,
        totp_code=totp_code,
        recovery_code=recovery_code,
        request_id=ctx.request_id,
        ip=ctx.client_ip,
        user_agent=ctx.user_agent,
    )
    return await logins.log_in(
        ctx.runtime.transactions,
        reads=ctx.runtime.read_sessionmaker,
        hasher=ctx.runtime.hasher,
        ttl=ctx.settings.session_ttl,
        attempt=attempt,
        throttle=ctx.runtime.throttle,
    )


async def drop_dead_session(ctx: Context) -> bool:
    """A WebSocket authenticates once, at `connection_init`; before each operation on it the
    session is read again, as an HTTP request's token is. A revoked or expired session, or
    an account suspended since, loses its viewer (True); otherwise the viewer and whether
    the session proved a second factor are brought up to date (one turned off since no
    longer counts)."""
    if ctx.session_id is None:
        return False
    async with ctx.read() as session:
        current = await accounts.live_session(session, session_id=ctx.session_id)
    if current is None:
        ctx.viewer, ctx.session_id, ctx.second_factor = None, None, False
        return True
    ctx.viewer, ctx.second_factor = current.account, current.second_factor
    return False


@dataclass(frozen=True, slots=True)
class Authority:
    """What a session may do: whether it proved a second factor, and its account's roles."""

    second_factor: bool
    roles: frozenset[Role]


async def session_authority(ctx: Context) -> Authority | None:
    """The viewer's session's authority as the database has it now: None once the session
    ended or the account is suspended (and for an anonymous viewer)."""
    if ctx.session_id is None:
        return None
    async with ctx.read() as session:
        current = await accounts.live_session(session, session_id=ctx.session_id)
        if current is None:
            return None
        roles = await access.roles_of(session, account_id=current.account.id)
    return Authority(second_factor=current.second_factor, roles=roles)


async def log_out(ctx: Context) -> None:
    viewer = ctx.require_viewer()
    assert ctx.session_id is not None
    async with ctx.write() as session:
        await accounts.log_out(session, account_id=viewer.id, session_id=ctx.session_id)


async def log_out_everywhere(ctx: Context) -> int:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        return await accounts.log_out_everywhere(session, account_id=viewer.id)


async def update_profile(
    ctx: Context, *, display_name: str | None, bio: str | None, avatar_url: str | None
) -> Account:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        account = await session.get(Account, viewer.id, with_for_update={"key_share": True})
        assert account is not None
        return await accounts.update_profile(
            session, account=account, display_name=display_name, bio=bio, avatar_url=avatar_url
        )


async def account_by_handle(ctx: Context, *, handle: str) -> Account | None:
    """An account by handle; null when it does not exist or a block stands between."""
    async with ctx.read() as session:
        account = await accounts.get_account_by_handle(session, handle=handle)
        if account is None or ctx.viewer_id is None:
            return account
        if await social.blocked_between(session, ctx.viewer_id, account.id):
            return None
        return account


async def account_by_id(ctx: Context, *, account_id: int) -> Account | None:
    account: Account | None = await ctx.loaders.accounts_by_id.load(account_id)
    if account is None or ctx.viewer_id is None:
        return account
    async with ctx.read() as session:
        if await social.blocked_between(session, ctx.viewer_id, account.id):
            return None
    return account
