"""Who may see a post, as one SQL predicate used by every read path."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, true
from sqlalchemy.orm import aliased

from models.posts.tables import PUBLIC, Post
from models.social.tables import Block, Follow, Mute

Original = aliased(Post)


def visible_to(viewer_id: int | None) -> ColumnElement[bool]:
    """Live posts the viewer may see: public ones, their own, and followers-only ones of
    accounts they follow; never across a block in either direction. A repost goes when its
    original is deleted."""
    live = and_(
        Post.deleted_at.is_(None),
        or_(
            Post.repost_of_id.is_(None),
            exists().where(Original.id == Post.repost_of_id, Original.deleted_at.is_(None)),
        ),
    )
    if viewer_id is None:
        return and_(live, Post.visibility == PUBLIC)
    follows = exists().where(Follow.follower_id == viewer_id, Follow.followee_id == Post.author_id)
    blocked = exists().where(
        or_(
            and_(Block.blocker_id == viewer_id, Block.blocked_id == Post.author_id),
            and_(Block.blocker_id == Post.author_id, Block.blocked_id == viewer_id),
        )
    )
    return and_(
        live, ~blocked, or_(Post.visibility == PUBLIC, Post.author_id == viewer_id, follows)
    )


def not_muted_by(viewer_id: int | None) -> ColumnElement[bool]:
    """Posts whose author the viewer has not muted (timelines hide muted authors)."""
    if viewer_id is None:
        return true()
    return ~exists().where(Mute.muter_id == viewer_id, Mute.muted_id == Post.author_id)


def may_edit(post: Post, *, viewer_id: int) -> bool:
    return post.author_id == viewer_id and post.deleted_at is None and post.repost_of_id is None


def may_delete(post: Post, *, viewer_id: int) -> bool:
    return post.author_id == viewer_id and post.deleted_at is None
