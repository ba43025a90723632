"""Posts' rules, through the posts actions: bodies, replies and threads, likes, reposts,
visibility and deletion. (The GraphQL mapping of their errors stays in tests/api.)"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account
from models.errors import DomainError, NotFound
from models.posts import actions as posts
from models.posts import errors
from models.posts.tables import Like
from models.social import actions as social
from models.timeline import queries as timeline
from tests.support.domain_accounts import new_account


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "POST_EMPTY"), ("   \n\t", "POST_EMPTY"), ("x" * 501, "POST_TOO_LONG")],
)
async def test_create_post_rejects_bad_bodies(
    db_session: AsyncSession, body: str, code: str
) -> None:
    ada = await new_account(db_session, "ada")

    with pytest.raises(DomainError) as refused:
        await posts.create_post(db_session, author_id=ada.id, body=body)

    assert (refused.value.code, refused.value.field) == (code, "body")


async def test_a_500_character_post_is_accepted(db_session: AsyncSession) -> None:
    ada = await new_account(db_session, "ada")

    post = await posts.create_post(db_session, author_id=ada.id, body="x" * 500)

    assert post.body == "x" * 500


async def test_replying_to_an_unknown_post_is_not_found(db_session: AsyncSession) -> None:
    ada = await new_account(db_session, "ada")

    with pytest.raises(NotFound) as refused:
        await posts.create_post(db_session, author_id=ada.id, body="hi", reply_to_id=999999)

    assert (refused.value.code, refused.value.field) == ("NOT_FOUND", "replyToId")


async def test_replies_form_a_thread_and_count(db_session: AsyncSession) -> None:
    ada, grace = await new_account(db_session, "ada"), await new_account(db_session, "grace")
    root = await posts.create_post(db_session, author_id=ada.id, body="root")
    reply = await posts.create_post(
        db_session, author_id=grace.id, body="first reply", reply_to_id=root.id
    )
    await posts.create_post(
        db_session, author_id=ada.id, body="reply to reply", reply_to_id=reply.id
    )

    page = await timeline.thread_page(
        db_session, viewer_id=None, root_id=root.id, first=10, after=None
    )

    assert reply.reply_to_id == root.id
    assert [p.body for _, p in page.items] == ["root", "first reply", "reply to reply"]
    await db_session.refresh(root)
    assert root.reply_count == 1


async def test_like_and_unlike_are_idempotent(db_session: AsyncSession) -> None:
    ada, grace = await new_account(db_session, "ada"), await new_account(db_session, "grace")
    post = await posts.create_post(db_session, author_id=ada.id, body="like me")

    await posts.like_post(db_session, account_id=grace.id, post_id=post.id)
    twice = await posts.like_post(db_session, account_id=grace.id, post_id=post.id)
    assert twice.like_count == 1
    assert await _likes(db_session, account_id=grace.id, post_id=post.id) == 1

    await posts.unlike_post(db_session, account_id=grace.id, post_id=post.id)
    again = await posts.unlike_post(db_session, account_id=grace.id, post_id=post.id)
    assert again.like_count == 0
    assert await _likes(db_session, account_id=grace.id, post_id=post.id) == 0


async def test_repost_once_and_count(db_session: AsyncSession) -> None:
    ada, grace = await new_account(db_session, "ada"), await new_account(db_session, "grace")
    post = await posts.create_post(db_session, author_id=ada.id, body="share me")

    first = await posts.repost_post(db_session, author_id=grace.id, post_id=post.id)
    second = await posts.repost_post(db_session, author_id=grace.id, post_id=post.id)

    assert first.repost_of_id == post.id
    assert second.id == first.id
    await db_session.refresh(post)
    assert post.repost_count == 1


async def test_followers_only_posts_cannot_be_reposted_or_seen_by_strangers(
    db_session: AsyncSession,
) -> None:
    ada, grace, eve = [await new_account(db_session, h) for h in ("ada", "grace", "eve")]
    await social.follow_account(db_session, follower_id=grace.id, followee_id=ada.id)
    post = await posts.create_post(
        db_session, author_id=ada.id, body="friends only", visibility="FOLLOWERS"
    )

    seen = await posts.get_visible_post(db_session, viewer_id=grace.id, post_id=post.id)
    assert seen.id == post.id
    for stranger in (eve.id, None):
        with pytest.raises(NotFound):
            await posts.get_visible_post(db_session, viewer_id=stranger, post_id=post.id)
    with pytest.raises(errors.CannotRepost) as refused:
        await posts.repost_post(db_session, author_id=grace.id, post_id=post.id)
    assert refused.value.code == "CANNOT_REPOST"


async def test_a_repost_can_be_deleted_after_its_original(db_session: AsyncSession) -> None:
    ada, grace = await new_account(db_session, "ada"), await new_account(db_session, "grace")
    original = await posts.create_post(db_session, author_id=ada.id, body="original")
    repost = await posts.repost_post(db_session, author_id=grace.id, post_id=original.id)
    await posts.delete_post(db_session, actor_id=ada.id, post_id=original.id)

    deleted = await posts.delete_post(db_session, actor_id=grace.id, post_id=repost.id)

    assert deleted == repost.id
    count = await db_session.scalar(select(Account.posts_count).where(Account.id == grace.id))
    assert count == 0


async def _likes(session: AsyncSession, *, account_id: int, post_id: int) -> int:
    stmt = select(func.count()).where(Like.account_id == account_id, Like.post_id == post_id)
    return int(await session.scalar(stmt) or 0)
