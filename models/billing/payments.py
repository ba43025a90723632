"""Collecting an open invoice through a Stripe PaymentIntent, and applying the outcome, from
our own call or from a webhook, exactly once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.billing import customers, dunning, idempotency, invoicing
from models.billing.gateway import IntentResult
from models.billing.ledger import FAILED, OPEN, PAID, PENDING, SUCCEEDED, Invoice, Payment
from models.billing.setup import BillingSetup
from models.billing.tables import ACTIVE, INCOMPLETE, PAST_DUE, UNPAID, Subscription
from telemetry import metrics


async def collect(
    sessionmaker: async_sessionmaker[AsyncSession],
    setup: BillingSetup,
    *,
    invoice_id: int,
    now: datetime | None = None,
) -> Payment | None:
    """Try to collect an open invoice with the customer's default payment method. A pending
    payment of the invoice (an earlier try whose answer was lost) is continued with the same
    idempotency keys rather than started again. Returns None when nothing is due."""
    now = now or utcnow()
    async with sessionmaker() as session, session.begin():
        account_id = await session.scalar(
            select(Invoice.account_id).where(Invoice.id == invoice_id)
        )
        if account_id is None:
            return None
        customer = await customers.lock_customer(session, account_id=account_id)
        invoice = await invoicing.lock_invoice(session, invoice_id=invoice_id)
        if invoice is None or invoice.status != OPEN:
            return None
        payment = await session.scalar(
            select(Payment).where(Payment.invoice_id == invoice.id, Payment.status == PENDING)
        )
        if payment is None:
            method = await customers.default_method(session, customer)
            payment = Payment(
                invoice_id=invoice.id,
                account_id=account_id,
                amount=invoice.amount_due,
                currency=invoice.currency,
                payment_method_id=method.id,
            )
            session.add(payment)
            await session.flush()
        else:
            method = await customers.default_method(session, customer)
        payment_id = payment.id
        intent_id = payment.stripe_payment_intent_id
        stripe_method = method.stripe_payment_method_id
        stripe_customer = customer.stripe_customer_id or ""
        amount, currency = payment.amount, payment.currency
    gateway = setup.gateway
    if intent_id is None:
        key = f"chirp-payment-{payment_id}-create"
        intent_id = await idempotency.reserve(
            sessionmaker, key=key, operation="payment_intent.create"
        ) or await gateway.create_intent(
            amount=amount,
            currency=currency,
            customer_id=stripe_customer,
            payment_method_id=stripe_method,
            metadata={"chirp_payment_id": str(payment_id), "chirp_invoice_id": str(invoice_id)},
            key=key,
        )
        async with sessionmaker() as session, session.begin():
            found = await session.get(Payment, payment_id, with_for_update=True)
            assert found is not None
            if found.stripe_payment_intent_id is None:
                found.stripe_payment_intent_id = intent_id
            intent_id = found.stripe_payment_intent_id
            await idempotency.complete(session, key=key, result_id=intent_id)
    key = f"chirp-payment-{payment_id}-confirm"
    await idempotency.reserve(sessionmaker, key=key, operation="payment_intent.confirm")
    result = await gateway.confirm_intent(intent_id=intent_id, key=key)
    async with sessionmaker() as session, session.begin():
        await idempotency.complete(session, key=key, result_id=intent_id)
        before = await session.scalar(select(Payment.status).where(Payment.id == payment_id))
        applied = await apply_intent_result(session, setup, result=result, now=now)
    if applied is not None and before == PENDING and applied.status != PENDING:
        # Counted where it settled: here, or by the webhook when that came first.
        metrics.PAYMENTS.labels(applied.status).inc()
    return applied


async def apply_intent_result(
    session: AsyncSession, setup: BillingSetup, *, result: IntentResult, now: datetime
) -> Payment | None:
    """Record where a PaymentIntent ended up. Only a pending payment changes, so applying the
    same outcome twice (our call and Stripe's webhook) has one effect."""
    payment = await session.scalar(
        select(Payment)
        .where(Payment.stripe_payment_intent_id == result.intent_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if payment is None or payment.status != PENDING or result.status == PENDING:
        return payment
    invoice = await invoicing.lock_invoice(session, invoice_id=payment.invoice_id)
    assert invoice is not None
    subscription = (
        await session.get(Subscription, invoice.subscription_id, with_for_update=True)
        if invoice.subscription_id is not None
        else None
    )
    if result.status == SUCCEEDED:
        payment.status = SUCCEEDED
        payment.stripe_charge_id = result.charge_id
        await mark_paid(session, invoice=invoice, amount=payment.amount, now=now)
        if subscription is not None:
            await settle_subscription(session, subscription=subscription, now=now)
    else:
        payment.status = FAILED
        payment.failure_code = result.failure_code[:64]
        payment.failure_message = result.failure_message[:300]
        if subscription is not None and subscription.status == ACTIVE:
            await dunning.start(session, setup, subscription=subscription, invoice=invoice, now=now)
    return payment


async def mark_paid(session: AsyncSession, *, invoice: Invoice, amount: int, now: datetime) -> None:
    if invoice.status != OPEN:
        return
    invoice.amount_paid += amount
    invoice.status = PAID
    invoice.paid_at = now


async def settle_subscription(
    session: AsyncSession, *, subscription: Subscription, now: datetime
) -> None:
    """Once none of its invoices is open, an incomplete, past-due or unpaid subscription is
    active again (entitlements restored)."""
    if subscription.status not in (INCOMPLETE, PAST_DUE, UNPAID):
        return
    still_open = await session.scalar(
        select(Invoice.id).where(Invoice.subscription_id == subscription.id, Invoice.status == OPEN)
    )
    if still_open is not None:
        return
    if subscription.status == UNPAID and subscription.current_period_end < now:
        # It lapsed while unpaid: the next period starts now (a new anchor, so it is a
        # whole period), billed by the renewal sweep.
        subscription.current_period_end = now
        subscription.billing_anchor = now
    subscription.status = ACTIVE
    await dunning.restore(session, subscription=subscription, now=now)


async def pay_open_invoices(
    sessionmaker: async_sessionmaker[AsyncSession],
    setup: BillingSetup,
    *,
    account_id: int,
    now: datetime | None = None,
) -> list[Payment]:
    """Try every open invoice of the account (after a payment method change)."""
    async with sessionmaker() as session:
        ids = [i.id for i in await invoicing.open_invoices(session, account_id=account_id)]
    results = []
    for invoice_id in ids:
        payment = await collect(sessionmaker, setup, invoice_id=invoice_id, now=now)
        if payment is not None:
            results.append(payment)
    return results
