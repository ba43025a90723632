"""Reading endpoints and their delivery log for the back office."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.integrations.actions import MAX_ENDPOINTS
from models.integrations.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint

ATTEMPTS_SHOWN = 20  # per delivery, newest first


async def list_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    """Every endpoint, oldest first (there are at most MAX_ENDPOINTS)."""
    rows = await session.scalars(
        select(WebhookEndpoint).order_by(WebhookEndpoint.id).limit(MAX_ENDPOINTS)
    )
    return list(rows)


async def get_endpoint(session: AsyncSession, *, endpoint_id: int) -> WebhookEndpoint | None:
    return await session.get(WebhookEndpoint, endpoint_id)


async def delivery_page(
    session: AsyncSession, *, endpoint_id: int, first: int, before_id: int | None
) -> tuple[list[WebhookDelivery], bool]:
    """An endpoint's deliveries, newest first, keyset-paged on the id."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if before_id is not None:
        stmt = stmt.where(WebhookDelivery.id < before_id)
    rows = list(await session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(first + 1)))
    return rows[:first], len(rows) > first


async def attempts_of(
    session: AsyncSession, *, delivery_ids: Sequence[int]
) -> dict[int, list[WebhookAttempt]]:
    """The latest attempts of each delivery (at most ATTEMPTS_SHOWN), newest first, in one
    query for a whole page."""
    found: dict[int, list[WebhookAttempt]] = defaultdict(list)
    if not delivery_ids:
        return found
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.id.desc())
    )
    for row in rows:
        if len(found[row.delivery_id]) < ATTEMPTS_SHOWN:
            found[row.delivery_id].append(row)
    return found
