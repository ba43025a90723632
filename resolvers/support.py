"""Support glue: account search, an account's sessions and log-in history, its private
fields for owner or staff, and ending sessions. Staff reads are audited before returning."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

from models.access import actions as access
from models.access.roles import Role
from models.accounts import actions as accounts
from models.accounts import policies
from models.accounts import queries as account_queries
from models.accounts.policies import Reader
from models.accounts.queries import AccountSearch, HistoryKey, LogInRecord
from models.accounts.tables import Account, LoginSession, ProfileEdit
from models.errors import DomainError
from models.pages import Page
from models.support import actions as support
from models.support.actions import EndedSessions
from resolvers.context import Context
from resolvers.paging import BadUserInput, check_first, decode_cursor
from resolvers.staff import audit_read, staff_write

SESSION_CURSOR = "s1:"
HISTORY_CURSOR = "h1:"
MAX_HISTORY_SHOWN = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_history_cursor(key: HistoryKey) -> str:
    at, rank, ident = key
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{HISTORY_CURSOR}{micros}.{rank}.{ident}".encode()).decode()


def decode_history_cursor(cursor: str | None) -> HistoryKey | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not raw.startswith(HISTORY_CURSOR):
            raise ValueError(raw)
        micros, rank, ident = (int(p) for p in raw[len(HISTORY_CURSOR) :].split("."))
        if rank not in (0, 1) or ident < 1:
            raise ValueError(raw)
        return _EPOCH + timedelta(microseconds=micros), rank, ident
    except (ValueError, OverflowError, binascii.Error, UnicodeError) as exc:
        raise BadUserInput("That cursor is not one this API issued.", argument="after") from exc


async def search_accounts(
    ctx: Context, *, search: AccountSearch, first: int, after: str | None
) -> Page[Account]:
    """Accounts matching one criterion. The search is audited (its terms may be personal)."""
    check_first(first)
    before = decode_cursor(after)
    try:
        search = search.checked()
    except DomainError as err:
        raise BadUserInput(err.message, argument=err.field or "filter") from err
    kind, value = search.criterion()
    await audit_read(ctx, what="account_search", target_type=kind, target_id=value)
    async with ctx.read() as session:
        return await account_queries.search_accounts(
            session, search=search, first=first, before=before
        )


async def sessions(
    ctx: Context, *, account_id: int, first: int, after: str | None
) -> Page[LoginSession]:
    check_first(first)
    before = decode_cursor(after, kind=SESSION_CURSOR)
    await audit_read(ctx, what="sessions", target_type="account", target_id=account_id)
    async with ctx.read() as session:
        return await account_queries.sessions_page(
            session, account_id=account_id, first=first, before=before
        )


async def login_history(
    ctx: Context, *, account_id: int, first: int, after: str | None
) -> Page[LogInRecord]:
    check_first(first)
    before = decode_history_cursor(after)
    await audit_read(ctx, what="login_history", target_type="account", target_id=account_id)
    async with ctx.read() as session:
        return await account_queries.login_history(
            session, account_id=account_id, first=first, before=before
        )


async def totp_enabled(ctx: Context, *, account_id: int) -> bool:
    async with ctx.read() as session:
        return await access.totp_enabled(session, account_id=account_id)


async def _roles_unless_owner(ctx: Context, owner_id: int) -> frozenset[Role]:
    """The viewer's roles, skipping the lookup when the owner or nobody is asking."""
    if ctx.viewer_id is None or ctx.viewer_id == owner_id:
        return frozenset()
    return await ctx.roles()


async def email(ctx: Context, *, account_id: int, address: str) -> str | None:
    """The email for its owner, or for SUPPORT or ADMIN (audited); null for anyone else."""
    reader = policies.email_reader(
        viewer_id=ctx.viewer_id,
        account_id=account_id,
        roles=await _roles_unless_owner(ctx, account_id),
    )
    if reader is Reader.STAFF:
        await audit_read(ctx, what="email", target_type="account", target_id=account_id)
    return None if reader is None else address


async def history_reader(
    ctx: Context, *, owner_id: int, what: str, target_type: str, target_id: int
) -> bool:
    """Whether the viewer may read a profile's or a post's history; a staff read is audited."""
    reader = policies.history_reader(
        viewer_id=ctx.viewer_id, owner_id=owner_id, roles=await _roles_unless_owner(ctx, owner_id)
    )
    if reader is Reader.STAFF:
        await audit_read(ctx, what=what, target_type=target_type, target_id=target_id)
    return reader is not None


async def profile_history(ctx: Context, *, account_id: int) -> list[ProfileEdit] | None:
    """Who changed the profile, what and when (newest first); owner or staff, else null."""
    if not await history_reader(
        ctx,
        owner_id=account_id,
        what="profile_history",
        target_type="account",
        target_id=account_id,
    ):
        return None
    async with ctx.read() as session:
        return await accounts.profile_history(
            session, account_id=account_id, limit=MAX_HISTORY_SHOWN
        )


async def end_session(ctx: Context, *, session_id: int, reason: str | None) -> EndedSessions:
    roles = await ctx.roles()
    async with staff_write(
        ctx,
        action=support.SESSION_ENDED,
        target_type="session",
        target_id=session_id,
        reason=reason,
    ) as (session, actor):
        return await support.end_session(
            session, actor=actor, actor_roles=roles, session_id=session_id, reason=reason
        )


async def end_all_sessions(ctx: Context, *, account_id: int, reason: str | None) -> EndedSessions:
    roles = await ctx.roles()
    async with staff_write(
        ctx,
        action=support.SESSIONS_ENDED,
        target_type="account",
        target_id=account_id,
        reason=reason,
    ) as (session, actor):
        return await support.end_all_sessions(
            session, actor=actor, actor_roles=roles, account_id=account_id, reason=reason
        )
