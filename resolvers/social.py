"""The social graph: follow, unfollow, block, mute, and the lists of follows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account
from models.pages import Page
from models.social import actions as social
from models.timeline import queries
from resolvers.context import Context
from resolvers.paging import check_first, decode_cursor

Edge = Callable[..., Awaitable[Account]]


async def _act(ctx: Context, action: Edge, actor: str, target: str, target_id: int) -> Account:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        return await action(session, **{actor: viewer.id, target: target_id})


async def follow_account(ctx: Context, *, account_id: int) -> Account:
    return await _act(ctx, social.follow_account, "follower_id", "followee_id", account_id)


async def unfollow_account(ctx: Context, *, account_id: int) -> Account:
    return await _act(ctx, social.unfollow_account, "follower_id", "followee_id", account_id)


async def block_account(ctx: Context, *, account_id: int) -> Account:
    return await _act(ctx, social.block_account, "blocker_id", "blocked_id", account_id)


async def unblock_account(ctx: Context, *, account_id: int) -> Account:
    return await _act(ctx, social.unblock_account, "blocker_id", "blocked_id", account_id)


async def mute_account(ctx: Context, *, account_id: int) -> Account:
    return await _act(ctx, social.mute_account, "muter_id", "muted_id", account_id)


async def unmute_account(ctx: Context, *, account_id: int) -> Account:
    return await _act(ctx, social.unmute_account, "muter_id", "muted_id", account_id)


Lister = Callable[..., Awaitable[Page[Account]]]


async def _follow_page(
    ctx: Context, lister: Lister, *, account_id: int, first: int, after: str | None
) -> Page[Account]:
    check_first(first)
    before = decode_cursor(after)
    session: AsyncSession
    async with ctx.read() as session:
        return await lister(
            session, viewer_id=ctx.viewer_id, account_id=account_id, first=first, before=before
        )


async def followers(
    ctx: Context, *, account_id: int, first: int, after: str | None
) -> Page[Account]:
    return await _follow_page(
        ctx, queries.followers_page, account_id=account_id, first=first, after=after
    )


async def following(
    ctx: Context, *, account_id: int, first: int, after: str | None
) -> Page[Account]:
    return await _follow_page(
        ctx, queries.following_page, account_id=account_id, first=first, after=after
    )
