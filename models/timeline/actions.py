"""Writing home feeds: the author's own entry at once, followers' through the job queue."""

from __future__ import annotations

from sqlalchemy import delete, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from models.posts.tables import Post
from models.social.tables import Follow
from models.timeline.tables import FeedEntry

BACKFILL_POSTS = 50


def _insert_ignoring_duplicates(session: AsyncSession, rows: Select[int, int, int]) -> object:
    columns = ["owner_id", "post_id", "author_id"]
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(FeedEntry).from_select(columns, rows).on_conflict_do_nothing()
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert(FeedEntry).from_select(columns, rows).on_conflict_do_nothing()
    return insert(FeedEntry).from_select(columns, rows)


async def add_own_entry(session: AsyncSession, *, post: Post) -> None:
    """An author sees their own post at the top of their home feed immediately."""
    session.add(FeedEntry(owner_id=post.author_id, post_id=post.id, author_id=post.author_id))


async def fan_out_post(session: AsyncSession, *, post_id: int) -> int:
    """Write a post into every follower's home feed; safe to run more than once."""
    post = await session.get(Post, post_id)
    if post is None or post.deleted_at is not None:
        return 0
    # FOR SHARE: an unfollow committing meanwhile waits, then removes what this wrote.
    rows = (
        select(Follow.follower_id, literal(post.id), literal(post.author_id))
        .where(Follow.followee_id == post.author_id)
        .with_for_update(read=True)
    )
    result = await session.execute(_insert_ignoring_duplicates(session, rows))  # type: ignore[call-overload]
    return int(result.rowcount or 0)


async def backfill_follow(session: AsyncSession, *, follower_id: int, followee_id: int) -> int:
    """After a follow, bring the followee's recent posts into the follower's home feed."""
    still_following = await session.scalar(
        select(Follow.id)
        .where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
        .with_for_update(read=True)
    )
    if still_following is None:
        return 0
    rows = (
        select(literal(follower_id), Post.id, Post.author_id)
        .where(Post.author_id == followee_id, Post.deleted_at.is_(None))
        .order_by(Post.id.desc())
        .limit(BACKFILL_POSTS)
    )
    result = await session.execute(_insert_ignoring_duplicates(session, rows))  # type: ignore[call-overload]
    return int(result.rowcount or 0)


async def forget_author(session: AsyncSession, *, owner_id: int, author_id: int) -> None:
    """Remove an author's posts from one home feed (after unfollow or block)."""
    await session.execute(
        delete(FeedEntry).where(FeedEntry.owner_id == owner_id, FeedEntry.author_id == author_id)
    )
