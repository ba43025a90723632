"""Post use cases: create, reply, repost, like, edit and delete."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account
from models.base import utcnow
from models.billing import entitlements as billing
from models.errors import NotFound
from models.events import actions as events
from models.posts import errors, policies
from models.posts.tables import PUBLIC, VISIBILITIES, Like, Post, PostEdit
from models.text import check_text
from models.timeline import actions as timeline


def check_body(body: str, *, max_length: int) -> str:
    """The body if it is text of 1 to `max_length` characters (the author's plan's limit)."""
    check_text(body, field="body", multiline=True)
    if not body.strip():
        raise errors.PostEmpty("A post needs some text.", field="body")
    if len(body) > max_length:
        raise errors.PostTooLong(
            f"Posts are at most {max_length} characters on your plan; Plus and Pro allow "
            "longer ones.",
            field="body",
        )
    return body


async def get_visible_post(
    session: AsyncSession,
    *,
    viewer_id: int | None,
    post_id: int,
    field: str = "postId",
    lock: bool = False,
) -> Post:
    """The post if the viewer may see it; otherwise NOT_FOUND, never FORBIDDEN. With `lock`,
    the row stays locked to the transaction, so concurrent changes to one post (two likes,
    two deletes, two edits) run one after the other and each sees the other's result."""
    stmt = select(Post).where(Post.id == post_id, policies.visible_to(viewer_id))
    if lock:
        stmt = stmt.with_for_update(of=Post, key_share=True)
    post = await session.scalar(stmt)
    if post is None:
        raise NotFound("No such post.", field=field)
    return post


async def create_post(
    session: AsyncSession,
    *,
    author_id: int,
    body: str,
    visibility: str = PUBLIC,
    reply_to_id: int | None = None,
) -> Post:
    """Publish a post or a reply; the event and the author's feed entry commit with it."""
    allowed = await billing.current_entitlements(session, account_id=author_id)
    check_body(body, max_length=allowed.max_post_length)
    if visibility not in VISIBILITIES:
        raise errors.InvalidVisibility("Unknown visibility.", field="visibility")
    root_id = None
    if reply_to_id is not None:
        parent = await get_visible_post(
            session, viewer_id=author_id, post_id=reply_to_id, field="replyToId", lock=True
        )
        if parent.repost_of_id is not None:
            raise NotFound(
                "Reposts cannot be replied to; reply to the original.", field="replyToId"
            )
        root_id = parent.thread_root_id or parent.id
        await _bump(session, post_id=parent.id, column="reply_count", by=1)
        _updated(session, parent.id)
    post = Post(
        author_id=author_id,
        body=body,
        visibility=visibility,
        reply_to_id=reply_to_id,
        thread_root_id=root_id,
    )
    return await _publish(session, post)


async def repost_post(session: AsyncSession, *, author_id: int, post_id: int) -> Post:
    """Share a public post with one's followers; reposting twice returns the first repost."""
    original = await get_visible_post(session, viewer_id=author_id, post_id=post_id)
    original = await get_visible_post(
        session, viewer_id=author_id, post_id=original.repost_of_id or original.id, lock=True
    )
    if original.visibility != PUBLIC:
        raise errors.CannotRepost("Only public posts can be reposted.", field="postId")
    existing = await session.scalar(
        select(Post).where(
            Post.author_id == author_id,
            Post.repost_of_id == original.id,
            Post.deleted_at.is_(None),
        )
    )
    if existing is not None:
        return existing
    await _bump(session, post_id=original.id, column="repost_count", by=1)
    _updated(session, original.id)
    return await _publish(
        session, Post(author_id=author_id, body="", visibility=PUBLIC, repost_of_id=original.id)
    )


async def _publish(session: AsyncSession, post: Post) -> Post:
    session.add(post)
    await session.flush()
    await session.execute(
        update(Account)
        .where(Account.id == post.author_id)
        .values(posts_count=Account.posts_count + 1)
    )
    await timeline.add_own_entry(session, post=post)
    events.record_event(
        session,
        type=events.POST_CREATED,
        payload={
            "post_id": post.id,
            "author_id": post.author_id,
            "visibility": post.visibility,
            "reply_to_id": post.reply_to_id,
        },
    )
    await session.flush()
    return post


async def like_post(session: AsyncSession, *, account_id: int, post_id: int) -> Post:
    """Like a post; liking twice changes nothing."""
    post = await get_visible_post(session, viewer_id=account_id, post_id=post_id, lock=True)
    liked = await session.scalar(
        select(Like.id).where(Like.account_id == account_id, Like.post_id == post_id)
    )
    if liked is None:
        session.add(Like(account_id=account_id, post_id=post_id))
        await _bump(session, post_id=post_id, column="like_count", by=1)
        _updated(session, post_id)
        await session.flush()
        await session.refresh(post)
    return post


async def unlike_post(session: AsyncSession, *, account_id: int, post_id: int) -> Post:
    """Take a like back; unliking a post one has not liked changes nothing."""
    post = await get_visible_post(session, viewer_id=account_id, post_id=post_id, lock=True)
    result = await session.execute(
        delete(Like).where(Like.account_id == account_id, Like.post_id == post_id)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        await _bump(session, post_id=post_id, column="like_count", by=-1)
        _updated(session, post_id)
        await session.flush()
        await session.refresh(post)
    return post


async def edit_post(session: AsyncSession, *, editor_id: int, post_id: int, body: str) -> Post:
    """Change a post's text within the author's plan's edit window (Free 1 hour, Plus 1 day,
    Pro without limit); the previous text is kept in its edit history."""
    post = await get_visible_post(session, viewer_id=editor_id, post_id=post_id, lock=True)
    if not policies.may_edit(post, viewer_id=editor_id):
        raise errors.NotAuthor("Only the author can edit a post.", field="postId")
    now = utcnow()
    allowed = await billing.current_entitlements(session, account_id=editor_id, now=now)
    if allowed.edit_window is not None and post.created_at + allowed.edit_window <= now:
        raise errors.EditWindowClosed(
            f"Posts can be edited for {_duration(allowed.edit_window)} on your plan; this one "
            "is older. Pro keeps posts editable.",
            field="postId",
        )
    check_body(body, max_length=allowed.max_post_length)
    if body != post.body:
        session.add(PostEdit(post_id=post.id, editor_id=editor_id, previous_body=post.body))
        post.body = body
        post.edited_at = now
        _updated(session, post.id)
        await session.flush()
    return post


async def delete_post(session: AsyncSession, *, actor_id: int, post_id: int) -> int:
    """Soft-delete a post: it disappears from every timeline, thread and subscription. An
    author may delete any live post of theirs, even a repost whose original is gone."""
    post = await session.scalar(
        select(Post)
        .where(Post.id == post_id, Post.author_id == actor_id, Post.deleted_at.is_(None))
        .with_for_update(key_share=True)
    )
    if post is None:
        await get_visible_post(session, viewer_id=actor_id, post_id=post_id)  # NOT_FOUND
        raise errors.NotAuthor("Only the author can delete a post.", field="postId")
    post.deleted_at = utcnow()
    # Posts before accounts, the order every other action locks them in.
    if post.reply_to_id is not None:
        await _bump(session, post_id=post.reply_to_id, column="reply_count", by=-1)
    if post.repost_of_id is not None:
        await _bump(session, post_id=post.repost_of_id, column="repost_count", by=-1)
    await session.execute(
        update(Account)
        .where(Account.id == post.author_id)
        .values(posts_count=Account.posts_count - 1)
    )
    events.record_event(
        session,
        type=events.POST_DELETED,
        payload={"post_id": post.id, "author_id": post.author_id},
    )
    await session.flush()
    return post.id


async def list_edits(session: AsyncSession, *, post_id: int, limit: int) -> list[PostEdit]:
    rows = await session.scalars(
        select(PostEdit)
        .where(PostEdit.post_id == post_id)
        .order_by(PostEdit.id.desc())
        .limit(limit)
    )
    return list(rows)


def _duration(window: timedelta) -> str:
    hours = int(window.total_seconds()) // 3600
    return f"{hours // 24} day(s)" if hours >= 24 else f"{hours} hour(s)"


async def _bump(session: AsyncSession, *, post_id: int, column: str, by: int) -> None:
    counter = getattr(Post, column)
    await session.execute(update(Post).where(Post.id == post_id).values({column: counter + by}))


def _updated(session: AsyncSession, post_id: int) -> None:
    events.record_event(session, type=events.POST_UPDATED, payload={"post_id": post_id})
