"""Closing an open invoice without payment: voided (it should not have been issued) or marked
uncollectible (owed, but given up on). Both keep the invoice's number: numbers have no gaps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit.actions import Actor, record_entry, require_reason
from models.base import utcnow
from models.billing import customers, errors, invoicing
from models.billing.ledger import OPEN, PAID, PENDING, UNCOLLECTIBLE, VOID, Invoice, Payment
from models.errors import NotFound


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
    invoice.status, invoice.voided_at = VOID, now or utcnow()
    await _audit(session, actor=actor, invoice=invoice, action="billing.invoice.void", why=reason)
    return invoice


async def mark_uncollectible(
    session: AsyncSession,
    *,
    actor: Actor,
    invoice_id: int,
    reason: str,
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
    return invoice


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
