"""Who may see a post, as one SQL predicate used by every read path."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, true
from sqlalchemy.orm import aliased

from models.accounts.tables import Account
from models.posts.tables import PUBLIC, Post
from models.social.tables import Block, Follow, Mute

Original = aliased(Post)
Author = aliased(Account)


def author_not_limited() -> ColumnElement[bool]:
    """The post's author is not limited by moderators (see `visible_to`)."""
    return ~exists().where(Author.id == Post.author_id, Author.limited_at.is_not(None))


def visible_to(viewer_id: int | None) -> ColumnElement[bool]:
    """Live posts the viewer may see: their own, whatever moderators did to them; otherwise
    not hidden by moderators, and public ones of accounts that are not limited, or any of
    accounts they follow; never across a block in either direction. A repost goes when its
    original is deleted or hidden."""
    live = and_(
        Post.deleted_at.is_(None),
        or_(
            Post.repost_of_id.is_(None),
            exists().where(
                Original.id == Post.repost_of_id,
                Original.deleted_at.is_(None),
                Original.hidden_at.is_(None),
            ),
        ),
    )
    public = and_(Post.visibility == PUBLIC, author_not_limited())
    if viewer_id is None:
        return and_(live, Post.hidden_at.is_(None), public)
    follows = exists().where(Follow.follower_id == viewer_id, Follow.followee_id == Post.author_id)
    blocked = exists().where(
        or_(
            and_(Block.blocker_id == viewer_id, Block.blocked_id == Post.author_id),
            and_(Block.blocker_id == Post.author_id, Block.blocked_id == viewer_id),
        )
    )
    return and_(
        live,
        ~blocked,
        or_(Post.author_id == viewer_id, and_(Post.hidden_at.is_(None), or_(public, follows))),
    )


def in_public_feed(viewer_id: int | None) -> ColumnElement[bool]:
    """The public feed leaves out limited accounts' posts, even for their followers (their
    own posts stay in the author's own view of it)."""
    if viewer_id is None:
        return true()  # `visible_to(None)` already leaves them out
    return or_(Post.author_id == viewer_id, author_not_limited())


def shown_in_public_feed(author: Account, *, viewer_id: int | None) -> bool:
    """`in_public_feed` for one loaded author, for live events."""
    return author.limited_at is None or author.id == viewer_id


def not_muted_by(viewer_id: int | None) -> ColumnElement[bool]:
    """Posts whose author the viewer has not muted (timelines hide muted authors)."""
    if viewer_id is None:
        return true()
    return ~exists().where(Mute.muter_id == viewer_id, Mute.muted_id == Post.author_id)


def may_edit(post: Post, *, viewer_id: int) -> bool:
    return post.author_id == viewer_id and post.deleted_at is None and post.repost_of_id is None


def may_delete(post: Post, *, viewer_id: int) -> bool:
    return post.author_id == viewer_id and post.deleted_at is None
