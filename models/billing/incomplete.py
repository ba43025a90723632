"""Expiry of subscriptions whose first invoice was never paid: after 23 hours the
subscription is canceled, its invoice void and its coupon redemption given back, so the
account may subscribe afresh, with the same promotion code."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.billing import coupons, customers, idempotency, payments
from models.billing.gateway import IntentResult
from models.billing.ledger import FAILED, OPEN, PENDING, SUCCEEDED, VOID, Invoice, Payment
from models.billing.setup import BillingSetup
from models.billing.sweep_tally import Tally
from models.billing.tables import CANCELED, INCOMPLETE, Subscription
from models.transactions import Transactions

BATCH = 100
INCOMPLETE_EXPIRED = coupons.INCOMPLETE_EXPIRED
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
    transactions: Transactions,
    setup: BillingSetup,
    *,
    now: datetime,
    limit: int = BATCH,
) -> Tally:
    """Cancel subscriptions whose first invoice stayed unpaid for 23 hours, void that invoice
    (giving back the credit it used) and release the coupon redemption it made. A payment
    still waiting for its customer (3-D Secure never completed) is canceled at Stripe first,
    unless it succeeded meanwhile, which then completes the subscription instead; one a
    caller is making right now is waited for. One that fails is logged and left for the next
    sweep."""
    async with transactions.session() as session:
        rows = (
            await session.execute(_incomplete_expired(now).order_by(Subscription.id).limit(limit))
        ).all()
    tally = Tally()
    for subscription_id, account_id in rows:
        with tally.isolated(
            "expiring an incomplete subscription",
            subscription_id=subscription_id,
            account_id=account_id,
        ):
            if await _give_up_waiting_payments(transactions, setup, subscription_id, now):
                continue
            tally.done += await _expire(transactions, subscription_id, account_id, now)
    return tally


async def abandon(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    subscription_id: int,
    account_id: int,
    now: datetime,
) -> bool:
    """End an incomplete subscription at once, as its expiry would (its customer chose
    another plan, interval, currency or offer). False when it cannot be: its payment
    succeeded after all, or is being made right now."""
    if await _give_up_waiting_payments(transactions, setup, subscription_id, now):
        return False
    return await _expire(transactions, subscription_id, account_id, now) == 1


async def _give_up_waiting_payments(
    transactions: Transactions,
    setup: BillingSetup,
    subscription_id: int,
    now: datetime,
) -> bool:
    """Cancel the unclaimed pending payments of the subscription's open invoices at Stripe and
    close them; True when one had succeeded after all (it is applied, nothing expires)."""
    clock = utcnow()
    async with transactions.session() as session:
        waiting = list(
            await session.scalars(
                select(Payment)
                .join(Invoice, Invoice.id == Payment.invoice_id)
                .where(
                    Invoice.subscription_id == subscription_id,
                    Invoice.status == OPEN,
                    Payment.status == PENDING,
                    or_(Payment.claimed_until.is_(None), Payment.claimed_until <= clock),
                )
            )
        )
    for payment in waiting:
        if payment.stripe_payment_intent_id is None:
            result = IntentResult("", FAILED, None, "expired", "The first invoice expired.")
        else:
            key = f"chirp-payment-{payment.id}-cancel"
            await idempotency.reserve(transactions, key=key, operation="payment_intent.cancel")
            result = await setup.gateway.cancel_unless_paid(
                intent_id=payment.stripe_payment_intent_id, key=key
            )
            if result.status != SUCCEEDED:
                result = IntentResult(
                    payment.stripe_payment_intent_id,
                    FAILED,
                    None,
                    "expired",
                    "Not completed within 23 hours; the first invoice expired.",
                )
        async with transactions.begin() as session:
            await payments.apply_intent_result(
                session, setup, result=result, now=now, payment_id=payment.id
            )
        if result.status == SUCCEEDED:
            return True
    return False


async def _expire(
    transactions: Transactions,
    subscription_id: int,
    account_id: int,
    now: datetime,
) -> int:
    async with transactions.begin() as session:
        customer = await customers.lock_customer(session, account_id=account_id)
        # Invoices before the subscription: the order payments.apply_intent_result locks in.
        invoices = list(
            await session.scalars(
                select(Invoice)
                .where(Invoice.subscription_id == subscription_id, Invoice.status == OPEN)
                .order_by(Invoice.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        subscription = await customers.lock_subscription(session, subscription_id)
        if subscription is None or subscription.status != INCOMPLETE:
            return 0
        in_flight = await session.scalar(
            select(Payment.id).where(
                Payment.invoice_id.in_([i.id for i in invoices]), Payment.status == PENDING
            )
        )
        if in_flight is not None:
            return 0
        for invoice in invoices:
            invoice.status = VOID
            invoice.voided_at = now
            customer.credit_balance += invoice.credit_applied
        subscription.status = CANCELED
        subscription.canceled_at = now
        subscription.cancel_reason = INCOMPLETE_EXPIRED
        if subscription.redemption_id is not None:
            redemption_id, subscription.redemption_id = subscription.redemption_id, None
            await session.flush()
            await coupons.release_redemption(session, redemption_id=redemption_id)
        return 1
