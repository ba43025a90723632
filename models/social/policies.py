"""Yes/no questions about the social graph."""

from __future__ import annotations

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.social.tables import Block, Follow


async def blocked_between(session: AsyncSession, a: int, b: int) -> bool:
    """True when either account blocks the other: then they neither follow nor see each other."""
    stmt = select(
        exists().where(
            or_(
                and_(Block.blocker_id == a, Block.blocked_id == b),
                and_(Block.blocker_id == b, Block.blocked_id == a),
            )
        )
    )
    return bool(await session.scalar(stmt))


async def follows(session: AsyncSession, follower_id: int, followee_id: int) -> bool:
    stmt = select(
        exists().where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )
    return bool(await session.scalar(stmt))
