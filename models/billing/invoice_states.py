"""Closing an open invoice without payment: voided (it should not have been issued) or marked
uncollectible (owed, but given up on). Both keep the invoice's number: numbers have no gaps.
Closing a subscription's last open invoice ends its dunning (`_settle_subscription`)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit.actions import Actor, record_entry, require_reason
from models.base import utcnow
from models.billing import customers, errors, invoicing, past_due, payments
from models.billing.ledger import OPEN, PAID, PENDING, UNCOLLECTIBLE, VOID, Invoice, Payment
from models.billing.tables import CANCELED, PAST_DUE, UNPAID
from models.errors import NotFound

log = logging.getLogger("chirp.billing")

# The cancel reason of an unpaid subscription whose last open invoice was marked uncollectible.
WRITTEN_OFF = "written_off"


async def void_invoice(
    session: AsyncSession,
    *,
    actor: Actor,
    invoice_id: int,
    reason: str,
    now: datetime | None = None,
) -> Invoice:
    """OPEN → VOID: nothing is owed, and the customer's credit it used is given back."""
    reason = require_reason(reason)
    invoice = await _open_invoice(session, invoice_id=invoice_id, target=VOID)
    customer = await customers.lock_customer(session, account_id=invoice.account_id)
    customer.credit_balance += invoice.credit_applied
    now = now or utcnow()
    invoice.status, invoice.voided_at = VOID, now
    await _audit(session, actor=actor, invoice=invoice, action="billing.invoice.void", why=reason)
    await _settle_subscription(session, invoice=invoice, written_off=False, now=now)
    return invoice


async def mark_uncollectible(
    session: AsyncSession,
    *,
    actor: Actor,
    invoice_id: int,
    reason: str,
    now: datetime | None = None,
) -> Invoice:
    """OPEN → UNCOLLECTIBLE: still owed on paper, no longer collected (dunning stops)."""
    reason = require_reason(reason)
    invoice = await _open_invoice(session, invoice_id=invoice_id, target=UNCOLLECTIBLE)
    invoice.status = UNCOLLECTIBLE
    await _audit(
        session,
        actor=actor,
        invoice=invoice,
        action="billing.invoice.mark_uncollectible",
        why=reason,
    )
    await _settle_subscription(session, invoice=invoice, written_off=True, now=now or utcnow())
    return invoice


async def _settle_subscription(
    session: AsyncSession, *, invoice: Invoice, written_off: bool, now: datetime
) -> None:
    """Once a past-due or unpaid subscription has no open invoice left, nothing more is
    collected: it is active again (`payments.settle_subscription`), except an unpaid one whose
    last open invoice was written off, which is canceled to Free (`written_off`) so the
    account may subscribe again. An incomplete one is left to expire (`incomplete`)."""
    if invoice.subscription_id is None:
        return
    # The invoice is locked already; the subscription after it, the order in which
    # payments.apply_intent_result locks them.
    subscription = await customers.lock_subscription(session, invoice.subscription_id)
    if subscription is None or subscription.status not in (PAST_DUE, UNPAID):
        return
    await session.flush()
    still_open = await session.scalar(
        select(Invoice.id).where(Invoice.subscription_id == subscription.id, Invoice.status == OPEN)
    )
    if still_open is not None:
        return
    if written_off and subscription.status == UNPAID:
        subscription.status, subscription.canceled_at = CANCELED, now
        subscription.cancel_reason = WRITTEN_OFF
        subscription.cancel_at_period_end = subscription.frozen = False
        past_due.clear(subscription)
        log.info(
            "subscription %d is canceled: its unpaid invoices were written off", subscription.id
        )
        return
    await payments.settle_subscription(session, subscription=subscription, now=now)


async def _open_invoice(session: AsyncSession, *, invoice_id: int, target: str) -> Invoice:
    # The customer's lock comes first everywhere (payments.collect): take it before the
    # invoice's so this never waits on a collection in the opposite order.
    account_id = await session.scalar(select(Invoice.account_id).where(Invoice.id == invoice_id))
    if account_id is None:
        raise NotFound("No such invoice.", field="invoiceId")
    await customers.lock_customer(session, account_id=account_id)
    invoice = await invoicing.lock_invoice(session, invoice_id=invoice_id)
    assert invoice is not None
    if invoice.status != OPEN:
        hint = " Refund it instead." if invoice.status == PAID else ""
        raise errors.InvalidInvoiceState(
            f"Only an open invoice can become {target}; this one is {invoice.status}.{hint}",
            field="invoiceId",
        )
    collecting = await session.scalar(
        select(Payment.id).where(Payment.invoice_id == invoice.id, Payment.status == PENDING)
    )
    if collecting is not None:
        # Its outcome could still mark the invoice paid: wait for it (a webhook settles it).
        raise errors.InvalidInvoiceState(
            "A payment of this invoice is in progress; try again once it has settled.",
            field="invoiceId",
        )
    return invoice


async def _audit(
    session: AsyncSession, *, actor: Actor, invoice: Invoice, action: str, why: str
) -> None:
    await session.flush()
    await record_entry(
        session,
        actor=actor,
        action=action,
        target_type="invoice",
        target_id=invoice.id,
        reason=why,
        before={"status": OPEN, "number": invoice.number},
        after={"status": invoice.status, "number": invoice.number},
    )
