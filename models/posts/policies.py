"""Who may see a post, as one SQL predicate used by every read path."""

from __future__ import annotations

from typing import Any

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


# The author of `Post` and of `Original` in `_seen`, made once: an alias made per call
# costs a proxy of every column and a new cache key on every request.
_AUTHORS: dict[int, Any] = {id(Post): aliased(Account), id(Original): aliased(Account)}


def _seen(post: Any, viewer_id: int | None) -> ColumnElement[bool]:
    """`visible_to` for one post (`Post` or an alias of it), reposts aside."""
    author = _AUTHORS.get(id(post)) or aliased(Account)
    public = and_(
        post.visibility == PUBLIC,
        ~exists().where(author.id == post.author_id, author.limited_at.is_not(None)),
    )
    if viewer_id is None:
        return and_(post.deleted_at.is_(None), post.hidden_at.is_(None), public)
    follows = exists().where(Follow.follower_id == viewer_id, Follow.followee_id == post.author_id)
    blocked = exists().where(
        or_(
            and_(Block.blocker_id == viewer_id, Block.blocked_id == post.author_id),
            and_(Block.blocker_id == post.author_id, Block.blocked_id == viewer_id),
        )
    )
    return and_(
        post.deleted_at.is_(None),
        ~blocked,
        or_(post.author_id == viewer_id, and_(post.hidden_at.is_(None), or_(public, follows))),
    )


def visible_to(viewer_id: Any, post: Any = Post) -> ColumnElement[bool]:
    """Live posts the viewer may see: their own, whatever moderators did to them; otherwise
    not hidden by moderators, and public ones of accounts that are not limited, or any of
    accounts they follow; never across a block in either direction. A repost goes when its
    original is deleted or hidden, or is one the viewer may not see (across a block).

    `viewer_id` is an id, None (anonymous) or a SQL expression (a bound parameter, for
    statements compiled once: `models/timeline/lean.py`); `post` is `Post` or an alias of
    it (a reply counted, an original shown beside its repost)."""
    original = Original if post is Post else aliased(Post)
    original_seen = exists().where(
        original.id == post.repost_of_id,
        original.hidden_at.is_(None),
        _seen(original, viewer_id),
    )
    return and_(_seen(post, viewer_id), or_(post.repost_of_id.is_(None), original_seen))


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
    """Posts whose author the viewer has not muted, nor, for a repost, the original's author
    (timelines hide muted authors, reposted or not)."""
    if viewer_id is None:
        return true()
    return and_(
        ~exists().where(Mute.muter_id == viewer_id, Mute.muted_id == Post.author_id),
        repost_not_muted_by(viewer_id),
    )


def repost_not_muted_by(viewer_id: int | None) -> ColumnElement[bool]:
    """Posts that are not reposts of a muted author's post: an account's own timeline shows
    its own posts even when muted, but no muted author through its reposts."""
    if viewer_id is None:
        return true()
    return or_(
        Post.repost_of_id.is_(None),
        ~exists().where(
            Original.id == Post.repost_of_id,
            Mute.muter_id == viewer_id,
            Mute.muted_id == Original.author_id,
        ),
    )


def may_edit(post: Post, *, viewer_id: int) -> bool:
    return post.author_id == viewer_id and post.deleted_at is None and post.repost_of_id is None


def may_delete(post: Post, *, viewer_id: int) -> bool:
    return post.author_id == viewer_id and post.deleted_at is None
