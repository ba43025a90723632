"""Social's registrations: the followed-by-viewer loader and the social error codes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.registry import Domain, Loader
from models.social import errors, tables
from models.social.tables import Follow


async def followed_by_viewer(
    session: AsyncSession, ids: list[int], viewer_id: int | None
) -> dict[int, bool]:
    """Which of these accounts the viewer follows (none for an anonymous viewer)."""
    if viewer_id is None:
        return {}
    rows = await session.scalars(
        select(Follow.followee_id).where(
            Follow.follower_id == viewer_id, Follow.followee_id.in_(ids)
        )
    )
    return dict.fromkeys(rows, True)


DOMAIN = Domain(
    name="social",
    tables=(tables,),
    error_codes=(errors.CannotFollowSelf.code, errors.Blocked.code),
    loaders={"followed_by_viewer": Loader(followed_by_viewer, missing=False)},
)
