"""Expiry of subscriptions whose first invoice was never paid: after 23 hours the
subscription is canceled and its invoice void, so the account may subscribe afresh."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.billing import customers, renewals
from models.billing.ledger import OPEN, PENDING, VOID, Invoice, Payment
from models.billing.tables import CANCELED, INCOMPLETE, Subscription

BATCH = 100
INCOMPLETE_EXPIRED = "incomplete_expired"
# Stripe's own window for a first payment's authentication is 23 hours.
INCOMPLETE_TTL = timedelta(hours=23)


async def due(session: AsyncSession, *, now: datetime) -> bool:
    """Whether `expire_incomplete` has anything to do at `now`."""
    return await session.scalar(_incomplete_expired(now).limit(1)) is not None


def _incomplete_expired(now: datetime) -> Select[int, int]:
    # current_period_start is the time `subscribe` was given, which tests and replays set.
    return select(Subscription.id, Subscription.account_id).where(
        Subscription.status == INCOMPLETE,
        Subscription.current_period_start <= now - INCOMPLETE_TTL,
    )


async def expire_incomplete(
    sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, limit: int = BATCH
) -> int:
    """Cancel subscriptions whose first invoice stayed unpaid for 23 hours and void that
    invoice (giving back the credit it used); one with a payment in flight waits for it."""
    async with sessionmaker() as session:
        rows = (
            await session.execute(_incomplete_expired(now).order_by(Subscription.id).limit(limit))
        ).all()
    expired = 0
    for subscription_id, account_id in rows:
        async with sessionmaker() as session, session.begin():
            customer = await customers.lock_customer(session, account_id=account_id)
            subscription = await renewals.lock_subscription(session, subscription_id)
            if subscription is None or subscription.status != INCOMPLETE:
                continue
            invoices = list(
                await session.scalars(
                    select(Invoice)
                    .where(Invoice.subscription_id == subscription_id, Invoice.status == OPEN)
                    .with_for_update()
                )
            )
            in_flight = await session.scalar(
                select(Payment.id).where(
                    Payment.invoice_id.in_([i.id for i in invoices]), Payment.status == PENDING
                )
            )
            if in_flight is not None:
                continue
            for invoice in invoices:
                invoice.status = VOID
                invoice.voided_at = now
                customer.credit_balance += invoice.credit_applied
            subscription.status = CANCELED
            subscription.canceled_at = now
            subscription.cancel_reason = INCOMPLETE_EXPIRED
            expired += 1
    return expired
