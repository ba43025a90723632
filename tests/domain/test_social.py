"""The social graph's rules and what they do to timelines, through the social, posts and
timeline actions. The fan-out and backfill jobs' actions are called where the worker would
run them after commit. (The GraphQL mapping of their errors stays in tests/api.)"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account
from models.errors import NotFound
from models.posts import actions as posts
from models.posts.tables import Post
from models.social import actions as social
from models.social import errors
from models.social import policies as graph
from models.timeline import actions as fan_out
from models.timeline import queries as timeline
from tests.support.domain_accounts import new_account


async def _post(session: AsyncSession, author: Account, body: str) -> Post:
    post = await posts.create_post(session, author_id=author.id, body=body)
    await fan_out.fan_out_post(session, post_id=post.id)
    return post


async def _follow(session: AsyncSession, follower: Account, followee: Account) -> None:
    await social.follow_account(session, follower_id=follower.id, followee_id=followee.id)
    await fan_out.backfill_follow(session, follower_id=follower.id, followee_id=followee.id)


async def _home(session: AsyncSession, viewer: Account) -> list[str]:
    page = await timeline.home_page(session, viewer_id=viewer.id, first=20, before=None)
    return [p.body for _, p in page.items]


async def _public(session: AsyncSession, viewer: Account | None) -> list[int]:
    viewer_id = None if viewer is None else viewer.id
    page = await timeline.public_page(session, viewer_id=viewer_id, first=10, before=None)
    return [p.id for _, p in page.items]


async def test_home_has_own_and_followees_posts_newest_first(db_session: AsyncSession) -> None:
    ada, grace, linus = [await new_account(db_session, h) for h in ("ada", "grace", "linus")]
    await _follow(db_session, ada, grace)
    await _post(db_session, grace, "grace 1")
    await _post(db_session, linus, "linus (not followed)")
    await _post(db_session, ada, "ada 1")
    await _post(db_session, grace, "grace 2")

    assert await _home(db_session, ada) == ["grace 2", "ada 1", "grace 1"]


async def test_follow_backfills_and_unfollow_removes(db_session: AsyncSession) -> None:
    ada, grace = await new_account(db_session, "ada"), await new_account(db_session, "grace")
    await _post(db_session, grace, "older post")

    await _follow(db_session, ada, grace)
    assert await _home(db_session, ada) == ["older post"]

    unfollowed = await social.unfollow_account(db_session, follower_id=ada.id, followee_id=grace.id)
    assert unfollowed.id == grace.id
    assert await _home(db_session, ada) == []


async def test_following_oneself_is_refused(db_session: AsyncSession) -> None:
    ada = await new_account(db_session, "ada")

    with pytest.raises(errors.CannotFollowSelf) as refused:
        await social.follow_account(db_session, follower_id=ada.id, followee_id=ada.id)

    assert (refused.value.code, refused.value.field) == ("CANNOT_TARGET_SELF", "accountId")


async def test_block_ends_follows_and_hides_both_ways(db_session: AsyncSession) -> None:
    ada, grace = await new_account(db_session, "ada"), await new_account(db_session, "grace")
    await _follow(db_session, ada, grace)
    await _follow(db_session, grace, ada)
    grace_post = await _post(db_session, grace, "from grace")
    assert await _home(db_session, ada) == ["from grace"]

    await social.block_account(db_session, blocker_id=grace.id, blocked_id=ada.id)

    assert await _home(db_session, ada) == []
    # The rule by which `account(handle:)` answers null across a block, both ways.
    assert await graph.blocked_between(db_session, ada.id, grace.id)
    assert await graph.blocked_between(db_session, grace.id, ada.id)
    with pytest.raises(NotFound):
        await posts.get_visible_post(db_session, viewer_id=ada.id, post_id=grace_post.id)
    with pytest.raises(NotFound) as refused:
        await social.follow_account(db_session, follower_id=ada.id, followee_id=grace.id)
    assert refused.value.code == "NOT_FOUND"
    await db_session.refresh(ada)
    assert (ada.followers_count, ada.following_count) == (0, 0)


async def test_mute_hides_from_timelines_until_unmuted(db_session: AsyncSession) -> None:
    ada, grace = await new_account(db_session, "ada"), await new_account(db_session, "grace")
    await _follow(db_session, ada, grace)
    await _post(db_session, grace, "noise")
    assert await _home(db_session, ada) == ["noise"]

    await social.mute_account(db_session, muter_id=ada.id, muted_id=grace.id)

    assert await _home(db_session, ada) == []
    assert await _public(db_session, ada) == []
    await social.unmute_account(db_session, muter_id=ada.id, muted_id=grace.id)
    assert await _home(db_session, ada) == ["noise"]


async def test_reposts_vanish_with_their_original(db_session: AsyncSession) -> None:
    ada, grace = await new_account(db_session, "ada"), await new_account(db_session, "grace")
    original = await _post(db_session, grace, "soon gone")
    await posts.repost_post(db_session, author_id=ada.id, post_id=original.id)
    assert len(await _public(db_session, None)) == 2

    await posts.delete_post(db_session, actor_id=grace.id, post_id=original.id)

    assert await _public(db_session, None) == []
    assert await _home(db_session, ada) == []
