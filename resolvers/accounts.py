"""Accounts: sign up, log in and out, the viewer, profiles."""

from __future__ import annotations

from models.access import actions as access
from models.access import policies as access_policies
from models.access.errors import SecondFactorRequired
from models.accounts import actions as accounts
from models.accounts.tables import Account
from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import utcnow
from models.errors import DomainError
from models.moderation import policies as moderation
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
    async with ctx.read() as session:
        found = await accounts.find_login(session, login=login)
    try:
        account, rehashed = await accounts.check_credentials(
            found, hasher=ctx.runtime.hasher, password=password
        )
    except DomainError as err:
        # Recorded whether or not the login named an account: the same work either way.
        await _record_failed_login(ctx, None if found is None else found.id, err)
        raise
    # Only after the password: a suspension is not told to someone who does not know it.
    moderation.check_may_log_in(account, now=utcnow())
    try:
        async with ctx.write() as session:
            # Again under the account's lock: a suspension committed since the read above
            # (it updates this row) is seen here, so no session outlives it.
            current = await session.get(
                Account, account.id, with_for_update={"key_share": True}, populate_existing=True
            )
            assert current is not None
            moderation.check_may_log_in(current, now=utcnow())
            factor = await access.prove_second_factor(
                session, account_id=account.id, code=totp_code, recovery_code=recovery_code
            )
            token = ""
            if factor.refusal is None:
                token = await accounts.record_log_in(
                    session,
                    account_id=account.id,
                    rehashed=rehashed,
                    ttl=ctx.settings.session_ttl,
                    ip=ctx.client_ip,
                    user_agent=ctx.user_agent,
                    second_factor=factor.proved,
                )
        # Raised only now: the wrong code's count had to commit first.
        if factor.refusal is not None:
            raise factor.refusal
    except DomainError as err:
        await _record_failed_login(ctx, account.id, err)
        if not isinstance(err, SecondFactorRequired):  # the normal first step of a 2FA log-in
            await _record_refused_second_factor(ctx, account, err)
        raise
    return account, token


async def _record_failed_login(ctx: Context, account_id: int | None, err: DomainError) -> None:
    """Keep the refused attempt for support; the answer to the client does not change."""
    async with ctx.write() as session:
        await accounts.record_failed_login(
            session,
            account_id=account_id,
            failure=err.code,
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )


async def _record_refused_second_factor(ctx: Context, account: Account, err: DomainError) -> None:
    """A staff account's failed second factor (wrong, expired or reused code) is audited."""
    async with ctx.write() as session:
        roles = await access.roles_of(session, account_id=account.id)
        if not access_policies.is_staff(roles):
            return
        actor = Actor(
            account_id=account.id,
            handle=account.handle,
            roles=tuple(sorted(r.value for r in roles)),
            request_id=ctx.request_id,
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
        await audit.record_entry(
            session,
            actor=actor,
            action="auth.second_factor",
            target_type="account",
            target_id=account.id,
            outcome=f"refused:{err.code}",
        )


async def drop_dead_session(ctx: Context) -> bool:
    """A WebSocket authenticates once, at `connection_init`; before each operation on it the
    session is checked again, and a revoked or expired one loses its viewer. True if so."""
    if ctx.session_id is None:
        return False
    async with ctx.read() as session:
        if await accounts.session_is_live(session, session_id=ctx.session_id):
            return False
    ctx.viewer, ctx.session_id = None, None
    return True


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
