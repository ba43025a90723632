"""Posts' registrations: the visible-posts, visible-reply-count and liked-by-viewer loaders
and the posts' error codes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.posts import errors, policies, tables
from models.posts.tables import Like, Post
from models.registry import Domain, Loader


async def visible_posts_by_id(
    session: AsyncSession, ids: list[int], viewer_id: int | None
) -> dict[int, Post]:
    """The posts with these ids that the viewer may see."""
    rows = await session.scalars(
        select(Post).where(Post.id.in_(ids), policies.visible_to(viewer_id))
    )
    return {row.id: row for row in rows}


async def visible_reply_counts(
    session: AsyncSession, ids: list[int], viewer_id: int | None
) -> dict[int, int]:
    """How many direct replies to each of these posts the viewer may see (the thread's rule:
    a followers-only reply, a reply across a block, a hidden one are not counted)."""
    rows = await session.execute(
        select(Post.reply_to_id, func.count())
        .where(Post.reply_to_id.in_(ids), policies.visible_to(viewer_id))
        .group_by(Post.reply_to_id)
    )
    return {post_id: count for post_id, count in rows if post_id is not None}


async def liked_by_viewer(
    session: AsyncSession, ids: list[int], viewer_id: int | None
) -> dict[int, bool]:
    """Which of these posts the viewer likes (none for an anonymous viewer)."""
    if viewer_id is None:
        return {}
    rows = await session.scalars(
        select(Like.post_id).where(Like.account_id == viewer_id, Like.post_id.in_(ids))
    )
    return dict.fromkeys(rows, True)


DOMAIN = Domain(
    name="posts",
    tables=(tables,),
    error_codes=(
        errors.PostEmpty.code,
        errors.PostTooLong.code,
        errors.InvalidVisibility.code,
        errors.NotAuthor.code,
        errors.CannotRepost.code,
    ),
    later_error_codes=(errors.EditWindowClosed.code,),
    loaders={
        "visible_posts_by_id": Loader(visible_posts_by_id),
        "liked_by_viewer": Loader(liked_by_viewer, missing=False),
        "visible_reply_counts": Loader(visible_reply_counts, missing=0),
    },
)
