"""Posts: create, reply, repost, like, edit, delete, and their edit history."""

from __future__ import annotations

from models.posts import actions as posts
from models.posts.tables import Post, PostEdit
from resolvers import support
from resolvers.context import Context
from telemetry import metrics

MAX_EDITS_SHOWN = 50


async def create_post(ctx: Context, *, body: str, visibility: str, reply_to_id: int | None) -> Post:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        post = await posts.create_post(
            session,
            author_id=viewer.id,
            body=body,
            visibility=visibility,
            reply_to_id=reply_to_id,
        )
    metrics.POSTS_CREATED.inc()
    return post


async def repost_post(ctx: Context, *, post_id: int) -> Post:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        return await posts.repost_post(session, author_id=viewer.id, post_id=post_id)


async def like_post(ctx: Context, *, post_id: int) -> Post:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        return await posts.like_post(session, account_id=viewer.id, post_id=post_id)


async def unlike_post(ctx: Context, *, post_id: int) -> Post:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        return await posts.unlike_post(session, account_id=viewer.id, post_id=post_id)


async def edit_post(ctx: Context, *, post_id: int, body: str) -> Post:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        return await posts.edit_post(session, editor_id=viewer.id, post_id=post_id, body=body)


async def delete_post(ctx: Context, *, post_id: int) -> int:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        return await posts.delete_post(session, actor_id=viewer.id, post_id=post_id)


async def post_by_id(ctx: Context, *, post_id: int) -> Post | None:
    post: Post | None = await ctx.loaders.visible_posts_by_id.load(post_id)
    return post


async def edit_history(ctx: Context, *, post: Post) -> list[PostEdit] | None:
    """Earlier versions of a post, for its author or staff who read histories (audited)."""
    if not await support.history_reader(
        ctx, owner_id=post.author_id, what="post_history", target_type="post", target_id=post.id
    ):
        return None
    async with ctx.read() as session:
        return await posts.list_edits(session, post_id=post.id, limit=MAX_EDITS_SHOWN)
