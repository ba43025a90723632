"""Social-graph use cases. Counters move in the same transaction as the edge."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account
from models.errors import NotFound
from models.events import actions as events
from models.social import errors, policies
from models.social.tables import Block, Follow, Mute
from models.timeline import actions as timeline


async def _target(session: AsyncSession, *, actor_id: int, target_id: int) -> Account:
    """The target account, with both accounts' rows locked in id order: follows, blocks and
    mutes between one pair then run one after the other, so none overtakes another (a
    follow committing after a block would survive it) and counters never drift."""
    if actor_id == target_id:
        raise errors.CannotFollowSelf("You cannot do that to your own account.", field="accountId")
    rows = await session.scalars(
        select(Account)
        .where(Account.id.in_([actor_id, target_id]))
        .order_by(Account.id)
        # NO KEY UPDATE: rows that merely point at these accounts (feed entries, posts,
        # likes being inserted) need not wait, and cannot deadlock with this lock.
        .with_for_update(key_share=True)
    )
    target = next((row for row in rows if row.id == target_id), None)
    if target is None:
        raise NotFound("No such account.", field="accountId")
    return target


async def follow_account(session: AsyncSession, *, follower_id: int, followee_id: int) -> Account:
    """Follow an account; following twice is not an error."""
    target = await _target(session, actor_id=follower_id, target_id=followee_id)
    if await policies.blocked_between(session, follower_id, followee_id):
        raise NotFound("No such account.", field="accountId")
    if await policies.follows(session, follower_id, followee_id):
        return target
    session.add(Follow(follower_id=follower_id, followee_id=followee_id))
    await _move_counts(session, follower_id=follower_id, followee_id=followee_id, by=1)
    events.record_event(
        session,
        type=events.ACCOUNT_FOLLOWED,
        payload={"follower_id": follower_id, "followee_id": followee_id},
    )
    await session.flush()
    await session.refresh(target)
    return target


async def unfollow_account(session: AsyncSession, *, follower_id: int, followee_id: int) -> Account:
    """Stop following; their posts leave the home feed at once."""
    target = await _target(session, actor_id=follower_id, target_id=followee_id)
    if await _remove_follow(session, follower_id=follower_id, followee_id=followee_id):
        events.record_event(
            session,
            type=events.ACCOUNT_UNFOLLOWED,
            payload={"follower_id": follower_id, "followee_id": followee_id},
        )
    await session.flush()
    await session.refresh(target)
    return target


async def _remove_follow(session: AsyncSession, *, follower_id: int, followee_id: int) -> bool:
    result = await session.execute(
        delete(Follow).where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await _move_counts(session, follower_id=follower_id, followee_id=followee_id, by=-1)
    await timeline.forget_author(session, owner_id=follower_id, author_id=followee_id)
    return True


async def _move_counts(
    session: AsyncSession, *, follower_id: int, followee_id: int, by: int
) -> None:
    await session.execute(
        update(Account)
        .where(Account.id == follower_id)
        .values(following_count=Account.following_count + by)
    )
    await session.execute(
        update(Account)
        .where(Account.id == followee_id)
        .values(followers_count=Account.followers_count + by)
    )


async def block_account(session: AsyncSession, *, blocker_id: int, blocked_id: int) -> Account:
    """Block an account: follows both ways end and neither sees the other any more."""
    target = await _target(session, actor_id=blocker_id, target_id=blocked_id)
    exists = await session.scalar(
        select(Block.id).where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)
    )
    if exists is None:
        session.add(Block(blocker_id=blocker_id, blocked_id=blocked_id))
        await _remove_follow(session, follower_id=blocker_id, followee_id=blocked_id)
        await _remove_follow(session, follower_id=blocked_id, followee_id=blocker_id)
        await timeline.forget_author(session, owner_id=blocker_id, author_id=blocked_id)
        await timeline.forget_author(session, owner_id=blocked_id, author_id=blocker_id)
        events.record_event(
            session,
            type=events.ACCOUNT_BLOCKED,
            payload={"blocker_id": blocker_id, "blocked_id": blocked_id},
        )
        await session.flush()
    await session.refresh(target)
    return target


async def unblock_account(session: AsyncSession, *, blocker_id: int, blocked_id: int) -> Account:
    """Lift a block; follows that the block ended are not restored."""
    target = await _target(session, actor_id=blocker_id, target_id=blocked_id)
    result = await session.execute(
        delete(Block).where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        events.record_event(
            session,
            type=events.ACCOUNT_UNBLOCKED,
            payload={"blocker_id": blocker_id, "blocked_id": blocked_id},
        )
    return target


async def mute_account(session: AsyncSession, *, muter_id: int, muted_id: int) -> Account:
    """Hide an account's posts from the viewer's timelines without telling them."""
    target = await _target(session, actor_id=muter_id, target_id=muted_id)
    exists = await session.scalar(
        select(Mute.id).where(Mute.muter_id == muter_id, Mute.muted_id == muted_id)
    )
    if exists is None:
        session.add(Mute(muter_id=muter_id, muted_id=muted_id))
        events.record_event(
            session,
            type=events.ACCOUNT_MUTED,
            payload={"muter_id": muter_id, "muted_id": muted_id},
        )
        await session.flush()
    return target


async def unmute_account(session: AsyncSession, *, muter_id: int, muted_id: int) -> Account:
    """Show a muted account's posts again."""
    target = await _target(session, actor_id=muter_id, target_id=muted_id)
    result = await session.execute(
        delete(Mute).where(Mute.muter_id == muter_id, Mute.muted_id == muted_id)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        events.record_event(
            session,
            type=events.ACCOUNT_UNMUTED,
            payload={"muter_id": muter_id, "muted_id": muted_id},
        )
    return target
