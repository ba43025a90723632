"""Collecting an open invoice through a Stripe PaymentIntent, and applying the outcome, from
our own call or from a webhook, exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.billing import customers, errors, idempotency, invoicing, past_due
from models.billing.ledger import FAILED, OPEN, PAID, PENDING, SUCCEEDED, Invoice, Payment
from models.billing.processor import IntentResult, PaymentGateway
from models.billing.setup import BillingSetup
from models.billing.tables import ACTIVE, INCOMPLETE, PAST_DUE, UNPAID, Subscription
from models.transactions import Transactions
from telemetry import metrics

# How long a caller may talk to Stripe about a payment before others may take it over.
CLAIM = timedelta(minutes=2)
SUPERSEDED = "superseded"


@dataclass(frozen=True)
class _Attempt:
    payment_id: int
    intent_id: str | None
    stripe_method: str
    stripe_customer: str
    amount: int
    currency: str


async def collect(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    invoice_id: int,
    now: datetime | None = None,
    on_session: bool = False,
) -> Payment | None:
    """Try to collect an open invoice with the customer's default payment method (see
    `StripeGateway.confirm_intent` for `on_session`). A pending
    payment of the invoice (an earlier try whose answer was lost) is continued with the same
    idempotency keys rather than started again, unless the default payment method changed
    since: then it is settled or canceled first. A payment another caller is working on is
    left to it. Returns None when nothing is due."""
    now = now or utcnow()
    while True:
        step = await _claim(transactions, invoice_id=invoice_id)
        if step is None or isinstance(step, Payment):
            return step
        if isinstance(step, _Attempt):
            break
        payment_id, old_intent = step
        paid = await _supersede(transactions, setup, payment_id, old_intent, now)
        if paid is not None:
            return paid
    try:
        result = await _charge(transactions, setup.gateway, step, invoice_id, on_session)
    except errors.PaymentRejected as exc:
        result = IntentResult(step.intent_id or "", FAILED, None, "processor_rejected", exc.message)
    except Exception:
        # Unanswered (or an unexpected error): the payment stays pending, unclaimed, for
        # a retry to continue with the same keys.
        async with transactions.begin() as session:
            found = await session.get(Payment, step.payment_id, with_for_update=True)
            if found is not None:
                found.claimed_until = None
        raise
    async with transactions.begin() as session:
        before = await session.scalar(select(Payment.status).where(Payment.id == step.payment_id))
        applied = await apply_intent_result(
            session, setup, result=result, now=now, payment_id=step.payment_id
        )
    if applied is not None and before == PENDING and applied.status != PENDING:
        # Counted where it settled: here, or by the webhook when that came first.
        metrics.PAYMENTS.labels(applied.status).inc()
    return applied


async def _claim(
    transactions: Transactions, *, invoice_id: int
) -> _Attempt | Payment | tuple[int, str | None] | None:
    """Under the customer's and the invoice's locks: the payment to make (claimed), a payment
    someone else is making, a pending payment on another card to supersede, or None."""
    async with transactions.begin() as session:
        account_id = await session.scalar(
            select(Invoice.account_id).where(Invoice.id == invoice_id)
        )
        if account_id is None:
            return None
        customer = await customers.lock_customer(session, account_id=account_id)
        invoice = await invoicing.lock_invoice(session, invoice_id=invoice_id)
        if invoice is None or invoice.status != OPEN:
            return None
        method = await customers.default_method(session, customer)
        payment = await session.scalar(
            select(Payment).where(Payment.invoice_id == invoice.id, Payment.status == PENDING)
        )
        clock = utcnow()
        if payment is not None and payment.claimed_until and payment.claimed_until > clock:
            return payment
        if payment is not None and payment.payment_method_id != method.id:
            return payment.id, payment.stripe_payment_intent_id
        if payment is None:
            payment = Payment(
                invoice_id=invoice.id,
                account_id=account_id,
                amount=invoice.amount_due,
                currency=invoice.currency,
                payment_method_id=method.id,
            )
            session.add(payment)
            await session.flush()
        payment.claimed_until = clock + CLAIM
        return _Attempt(
            payment.id,
            payment.stripe_payment_intent_id,
            method.stripe_payment_method_id,
            customer.stripe_customer_id or "",
            payment.amount,
            payment.currency,
        )


async def _supersede(
    transactions: Transactions,
    setup: BillingSetup,
    payment_id: int,
    intent_id: str | None,
    now: datetime,
) -> Payment | None:
    """A pending payment on a card that is no longer the default: if Stripe charged it after
    all, apply that (and return it); otherwise cancel its intent and close it, so the next
    try starts a payment on the new card with keys of its own."""
    if intent_id is not None:
        key = f"chirp-payment-{payment_id}-cancel"
        await idempotency.reserve(transactions, key=key, operation="payment_intent.cancel")
        result = await setup.gateway.cancel_unless_paid(intent_id=intent_id, key=key)
        if result.status == SUCCEEDED:
            async with transactions.begin() as session:
                return await apply_intent_result(session, setup, result=result, now=now)
    async with transactions.begin() as session:
        found = await session.get(Payment, payment_id, with_for_update=True)
        if found is not None and found.status == PENDING:
            found.status = FAILED
            found.failure_code = SUPERSEDED
            found.failure_message = "Replaced by a payment with the new default payment method."
            found.claimed_until = None
    return None


async def _charge(
    transactions: Transactions,
    gateway: PaymentGateway,
    step: _Attempt,
    invoice_id: int,
    on_session: bool,
) -> IntentResult:
    """Create (once) and confirm the payment's intent, each call with its stored key."""
    intent_id = step.intent_id
    if intent_id is None:
        key = f"chirp-payment-{step.payment_id}-create"
        intent_id = await idempotency.reserve(
            transactions, key=key, operation="payment_intent.create"
        ) or await gateway.create_intent(
            amount=step.amount,
            currency=step.currency,
            customer_id=step.stripe_customer,
            payment_method_id=step.stripe_method,
            metadata={
                "chirp_payment_id": str(step.payment_id),
                "chirp_invoice_id": str(invoice_id),
            },
            key=key,
        )
        async with transactions.begin() as session:
            found = await session.get(Payment, step.payment_id, with_for_update=True)
            assert found is not None
            if found.stripe_payment_intent_id is None:
                found.stripe_payment_intent_id = intent_id
            intent_id = found.stripe_payment_intent_id
            await idempotency.complete(session, key=key, result_id=intent_id)
    key = f"chirp-payment-{step.payment_id}-confirm"
    await idempotency.reserve(transactions, key=key, operation="payment_intent.confirm")
    # Off session, a confirmation that stops for 3-D Secure is followed by a cancel.
    await idempotency.reserve(transactions, key=f"{key}-cancel", operation="payment_intent.cancel")
    result = await gateway.confirm_intent(intent_id=intent_id, key=key, on_session=on_session)
    async with transactions.begin() as session:
        await idempotency.complete(session, key=key, result_id=intent_id)
    return result


async def apply_intent_result(
    session: AsyncSession,
    setup: BillingSetup,
    *,
    result: IntentResult,
    now: datetime,
    payment_id: int | None = None,
) -> Payment | None:
    """Record where a PaymentIntent ended up (or, by `payment_id`, a payment Stripe refused
    before it had an intent). Only a pending payment changes, so applying the same outcome
    twice (our call and Stripe's webhook) has one effect."""
    where = (
        Payment.id == payment_id
        if payment_id is not None
        else Payment.stripe_payment_intent_id == result.intent_id
    )
    payment = await session.scalar(
        select(Payment).where(where).with_for_update().execution_options(populate_existing=True)
    )
    if payment is None or payment.status != PENDING or result.status == PENDING:
        if payment is not None and payment.status == PENDING:
            payment.claimed_until = None
        return payment
    payment.claimed_until = None
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
            await past_due.start(
                session, setup, subscription=subscription, invoice=invoice, now=now
            )
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
    await past_due.restore(session, subscription=subscription, now=now)


async def pay_open_invoices(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    account_id: int,
    now: datetime | None = None,
) -> list[Payment]:
    """Try every open invoice of the account (after a payment method change)."""
    async with transactions.session() as session:
        ids = [i.id for i in await invoicing.open_invoices(session, account_id=account_id)]
    results = []
    for invoice_id in ids:
        payment = await collect(transactions, setup, invoice_id=invoice_id, now=now)
        if payment is not None:
            results.append(payment)
    return results
