"""Roles and the second factor."""

from __future__ import annotations

from models.access import actions as access
from models.access import enrolment
from models.access.actions import Enrolment
from models.access.roles import Role
from models.accounts import login as logins
from resolvers.context import Context
from resolvers.staff import staff_write


async def change_role(
    ctx: Context, *, account_id: int, role: str, grant: bool, reason: str | None
) -> frozenset[Role]:
    action = "role.grant" if grant else "role.revoke"
    roles = await ctx.roles()
    async with staff_write(
        ctx, action=action, target_type="account", target_id=account_id, reason=reason
    ) as (session, actor):
        return await access.change_role(
            session,
            actor=actor,
            actor_roles=roles,
            account_id=account_id,
            role=role,
            grant=grant,
            reason=reason,
        )


async def _check_password(ctx: Context, password: str) -> None:
    """Turning TOTP on or off needs the password again: a stolen session token alone must
    not be able to enrol its own authenticator or remove the owner's."""
    viewer = ctx.require_viewer()
    await logins.check_password_again(
        reads=ctx.runtime.read_sessionmaker,
        hasher=ctx.runtime.hasher,
        throttle=ctx.runtime.throttle,
        account_id=viewer.id,
        password=password,
        ip=ctx.client_ip,
    )


async def begin_totp_enrolment(
    ctx: Context, *, password: str, enrolment_code: str | None
) -> Enrolment:
    viewer = ctx.require_viewer()
    await _check_password(ctx, password)
    async with ctx.write() as session:
        return await access.begin_totp_enrolment(
            session, account=viewer, enrolment_code=enrolment_code
        )


async def issue_enrolment_code(
    ctx: Context, *, account_id: int, reason: str | None
) -> enrolment.IssuedCode:
    roles = await ctx.roles()
    async with staff_write(
        ctx, action=enrolment.ISSUED, target_type="account", target_id=account_id, reason=reason
    ) as (session, actor):
        return await enrolment.issue_enrolment_code(
            session, actor=actor, actor_roles=roles, account_id=account_id, reason=reason
        )


async def confirm_totp_enrolment(ctx: Context, *, code: str) -> list[str]:
    viewer = ctx.require_viewer()
    assert ctx.session_id is not None
    async with ctx.write() as session:
        codes = await access.confirm_totp_enrolment(
            session, account_id=viewer.id, session_id=ctx.session_id, code=code
        )
    ctx.proved_second_factor()
    return codes


async def disable_totp(ctx: Context, *, code: str, password: str) -> None:
    viewer = ctx.require_viewer()
    await _check_password(ctx, password)
    stored = await ctx.stored_roles()
    async with ctx.write() as session:
        refusal = await access.disable_totp(session, account_id=viewer.id, roles=stored, code=code)
    if refusal is not None:  # raised after the commit, so the wrong code stays counted
        raise refusal


async def second_factor_status(ctx: Context) -> tuple[bool, int]:
    """Whether the viewer's TOTP is on, and how many recovery codes are unused."""
    viewer = ctx.require_viewer()
    async with ctx.read() as session:
        enabled = await access.totp_enabled(session, account_id=viewer.id)
        left = await access.unused_recovery_codes(session, account_id=viewer.id)
    return enabled, left
