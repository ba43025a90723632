"""The past-due state of a subscription: entering it on a failed payment, leaving it once
every open invoice is paid. Kept apart from the dunning sweep (`dunning`) because applying a
payment's outcome (`payments`) needs these steps and the sweep needs `payments`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from models.billing import notices
from models.billing.ledger import Invoice
from models.billing.setup import BillingSetup
from models.billing.tables import PAST_DUE, Subscription


async def start(
    session: AsyncSession,
    setup: BillingSetup,
    *,
    subscription: Subscription,
    invoice: Invoice,
    now: datetime,
) -> None:
    """The first failure: past due, retries scheduled, entitlements kept until grace ends."""
    subscription.status = PAST_DUE
    subscription.past_due_since = now
    subscription.retry_step = 0
    subscription.next_retry_at = now + timedelta(days=setup.retry_days[0])
    subscription.grace_ends_at = now + setup.grace
    await notices.send_payment_failed(session, subscription=subscription, attempt=0)


def clear(subscription: Subscription) -> None:
    """Forget the retry schedule and the grace period (no longer past due)."""
    subscription.past_due_since = None
    subscription.retry_step = 0
    subscription.next_retry_at = None
    subscription.grace_ends_at = None


async def restore(session: AsyncSession, *, subscription: Subscription, now: datetime) -> None:
    """Every open invoice is paid: tell the owner if it had been past due, and clear dunning."""
    if subscription.past_due_since is not None:
        await notices.send_restored(session, subscription=subscription)
    clear(subscription)
