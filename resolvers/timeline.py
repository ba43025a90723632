"""Timelines: home, an account's, the public feed and a thread, page by page."""

from __future__ import annotations

from models.pages import Page
from models.posts.tables import Post
from models.timeline import queries
from resolvers.context import Context
from resolvers.paging import check_first, decode_cursor


def _primed(ctx: Context, page: Page[Post]) -> Page[Post]:
    ctx.loaders.prime_posts([post for _, post in page.items])
    return page


async def home_timeline(ctx: Context, *, first: int, after: str | None) -> Page[Post]:
    viewer = ctx.require_viewer()
    check_first(first)
    before = decode_cursor(after)
    async with ctx.read() as session:
        page = await queries.home_page(session, viewer_id=viewer.id, first=first, before=before)
    return _primed(ctx, page)


async def public_feed(ctx: Context, *, first: int, after: str | None) -> Page[Post]:
    check_first(first)
    before = decode_cursor(after)
    async with ctx.read() as session:
        page = await queries.public_page(
            session, viewer_id=ctx.viewer_id, first=first, before=before
        )
    return _primed(ctx, page)


async def account_timeline(
    ctx: Context, *, account_id: int, first: int, after: str | None
) -> Page[Post]:
    check_first(first)
    before = decode_cursor(after)
    async with ctx.read() as session:
        page = await queries.account_page(
            session, viewer_id=ctx.viewer_id, author_id=account_id, first=first, before=before
        )
    return _primed(ctx, page)


async def thread(ctx: Context, *, root_id: int, first: int, after: str | None) -> Page[Post]:
    check_first(first)
    start = decode_cursor(after)
    async with ctx.read() as session:
        page = await queries.thread_page(
            session, viewer_id=ctx.viewer_id, root_id=root_id, first=first, after=start
        )
    return _primed(ctx, page)
