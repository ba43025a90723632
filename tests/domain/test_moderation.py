"""Moderation actions through their domain actions: what limiting an account does to who
sees its posts, and that every action's audit entry joins a chain that verifies (the
session carries the audit key, as the application's sessions do)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access.roles import Role
from models.accounts.tables import Account
from models.audit.actions import Actor
from models.audit.tables import AuditEntry
from models.audit.verify import verify_chain
from models.errors import NotFound
from models.moderation import actions as moderation
from models.moderation import errors
from models.moderation.kinds import Action
from models.moderation.specs import ActionSpec
from models.posts import actions as posts
from models.social import actions as social
from models.timeline import queries as timeline
from tests.support.domain_accounts import new_account

MODERATOR_ROLES = frozenset({Role.USER, Role.MODERATOR})


def _actor(account: Account) -> Actor:
    return Actor(account_id=account.id, handle=account.handle, roles=("MODERATOR",))


async def _public(session: AsyncSession, viewer: Account | None) -> list[int]:
    viewer_id = None if viewer is None else viewer.id
    page = await timeline.public_page(session, viewer_id=viewer_id, first=20, before=None)
    return [p.id for _, p in page.items]


async def _posts_of(session: AsyncSession, author: Account, viewer: Account) -> list[int]:
    page = await timeline.account_page(
        session, viewer_id=viewer.id, author_id=author.id, first=20, before=None
    )
    return [p.id for _, p in page.items]


async def test_a_limited_account_reaches_only_its_followers(db_session: AsyncSession) -> None:
    moderator, author, follower, stranger = [
        await new_account(db_session, h) for h in ("mod", "author", "follower", "stranger")
    ]
    await social.follow_account(db_session, follower_id=follower.id, followee_id=author.id)
    post = await posts.create_post(db_session, author_id=author.id, body="borderline")

    strike = await moderation.take_action(
        db_session,
        actor=_actor(moderator),
        actor_roles=MODERATOR_ROLES,
        spec=ActionSpec(action=Action.LIMIT_ACCOUNT, target_id=author.id, reason="spammy"),
    )

    assert strike.action == "LIMIT_ACCOUNT"
    assert await _posts_of(db_session, author, stranger) == []
    assert await _posts_of(db_session, author, follower) == [post.id]
    assert await _public(db_session, follower) == []
    assert await _public(db_session, None) == []
    assert await _public(db_session, author) == [post.id]
    seen = await posts.get_visible_post(db_session, viewer_id=follower.id, post_id=post.id)
    assert seen.id == post.id
    with pytest.raises(NotFound):
        await posts.get_visible_post(db_session, viewer_id=stranger.id, post_id=post.id)


async def test_an_action_and_its_lift_are_audited_on_a_chain_that_verifies(
    db_session: AsyncSession,
) -> None:
    moderator, author = (
        await new_account(db_session, "mod"),
        await new_account(db_session, "author"),
    )
    post = await posts.create_post(db_session, author_id=author.id, body="misunderstood")
    strike = await moderation.take_action(
        db_session,
        actor=_actor(moderator),
        actor_roles=MODERATOR_ROLES,
        spec=ActionSpec(action=Action.HIDE_POST, target_id=post.id, reason="looked bad"),
    )

    lifted = await moderation.lift_action(
        db_session,
        actor=_actor(moderator),
        actor_roles=MODERATOR_ROLES,
        strike_id=strike.id,
        reason="context given",
    )
    with pytest.raises(errors.NotInForce) as again:
        await moderation.lift_action(
            db_session,
            actor=_actor(moderator),
            actor_roles=MODERATOR_ROLES,
            strike_id=strike.id,
            reason="context given",
        )

    assert lifted.lifted_at is not None
    assert again.value.code == "ACTION_NOT_IN_FORCE"
    await db_session.refresh(post)
    assert (post.hidden_at, post.sensitive) == (None, False)
    entries = list(await db_session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.reason, e.actor_handle) for e in entries] == [
        ("moderation.hide_post", "looked bad", "mod"),
        ("moderation.lift", "context given", "mod"),
    ]
    assert entries[1].after == {"action": "HIDE_POST", "in_force": False}
    report = await verify_chain(db_session)
    assert report.ok and report.checked == 2, report.problems
