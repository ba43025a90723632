"""What the account's plan unlocks now, read from its subscription: what posts and usage
enforce. It imports nothing of the payment processor, so a domain that only reads
entitlements (posts) does not load Stripe (an import-linter contract keeps it so)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.billing.catalogue import FREE, Entitlements, entitlements_of
from models.billing.tables import ACTIVE, PAST_DUE, Price, Subscription


async def current_plan(session: AsyncSession, *, account_id: int, now: datetime) -> str:
    """The plan whose entitlements apply now: the subscription's while it is active, or past
    due within its grace period, and not frozen by a dispute; otherwise Free."""
    row = (
        await session.execute(
            select(Subscription, Price.plan_code)
            .join(Price, Price.id == Subscription.price_id)
            .where(
                Subscription.account_id == account_id,
                Subscription.status.in_((ACTIVE, PAST_DUE)),
            )
        )
    ).first()
    if row is None:
        return FREE
    subscription, plan_code = row
    if subscription.frozen:
        return FREE
    if subscription.status == PAST_DUE and (
        subscription.grace_ends_at is None or subscription.grace_ends_at <= now
    ):
        return FREE
    return str(plan_code)


async def current_entitlements(
    session: AsyncSession, *, account_id: int, now: datetime | None = None
) -> Entitlements:
    """What the account's plan unlocks now."""
    return entitlements_of(await current_plan(session, account_id=account_id, now=now or utcnow()))
