"""Stripe settling a refund later (`charge.refund.updated`, or `refund.updated` and
`refund.failed` on newer API versions): a refund counts as refunded only once it succeeded.
`pending` changes nothing; `succeeded` issues the pending credit note (or records a refund
made outside Chirp); `failed` or `canceled` fails a pending credit note or reverses an issued
one (`credit_notes.fail_refund`), gives the amount back to what can be refunded, and tells
billing staff once. Each effect happens once: the note's state decides, whatever the order
or number of deliveries."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.audit.actions import Actor, record_entry
from models.billing import charges, credit_notes, money, notices
from models.billing.charges import amount_field, text_field
from models.billing.ledger import FAILED, SUCCEEDED, CreditNote, Invoice
from models.billing.setup import BillingSetup

log = logging.getLogger("chirp.billing")


@dataclass(frozen=True)
class RefundUpdate:
    """What the event did: `payment_settled` when it settled a still-pending payment."""

    payment_settled: bool = False


async def apply_refund_update(
    session: AsyncSession, setup: BillingSetup, *, refund: Mapping[str, Any], now: datetime
) -> RefundUpdate:
    """Apply a Stripe refund object's status, in the caller's transaction."""
    refund_id = text_field(refund, "id")
    assert refund_id is not None
    status = refund.get("status")
    charge_id = text_field(refund, "charge", required=False)
    intent_id = text_field(refund, "payment_intent", required=False)
    payment = await charges.find_payment(session, charge_id=charge_id, intent_id=intent_id)
    if payment is None or payment.stripe_payment_intent_id is None:
        log.info("refund %s (%s) is not of a Chirp payment", refund_id, status)
        return RefundUpdate()
    # A refunded charge was paid: a payment still pending is settled first.
    settled = await charges.settle_paid(
        session, setup, payment=payment, charge_id=charge_id, now=now
    )
    ours = charges.credit_note_id(refund)
    if status == SUCCEEDED:
        left = payment.amount - payment.amount_refunded
        amount = amount_field(refund, "amount")
        note = await credit_notes.record_external_refund(
            session,
            stripe_refund_id=refund_id,
            intent_id=payment.stripe_payment_intent_id,
            amount=amount if ours else min(amount, left),
            now=now,
            credit_note_id=ours,
        )
        if note is not None:
            await _audit(session, note, action="billing.refund_succeeded", refund_id=refund_id)
    elif status in credit_notes.VOID_REFUNDS:
        reason = refund.get("failure_reason")
        failure = str(status) + (f" ({reason[:60]})" if isinstance(reason, str) and reason else "")
        note = await credit_notes.fail_refund(
            session, refund_id=refund_id, credit_note_id=ours, failure=failure, now=now
        )
        if note is not None:
            await _audit(session, note, action="billing.refund_failed", refund_id=refund_id)
            await _tell_staff(session, note, refund_id=refund_id, failure=failure)
    return RefundUpdate(payment_settled=settled)


async def _audit(session: AsyncSession, note: CreditNote, *, action: str, refund_id: str) -> None:
    await record_entry(
        session,
        actor=Actor.system("stripe"),
        action=action,
        target_type="invoice",
        target_id=note.invoice_id,
        reason=f"Stripe refund {refund_id} is {note.status} ({action})",
        after={
            "amount": note.amount,
            "currency": note.currency,
            "credit_note_status": note.status,
            "credit_note_number": note.number,
            "stripe_refund_id": refund_id,
        },
    )


async def _tell_staff(
    session: AsyncSession, note: CreditNote, *, refund_id: str, failure: str
) -> None:
    invoice = await session.get(Invoice, note.invoice_id)
    assert invoice is not None
    amount = money.format_money(note.amount, note.currency)
    if note.status == FAILED:
        what = "Its credit note was not issued"
    else:
        what = f"Credit note {note.number} is reversed (it keeps its number)"
    text = (
        f"Stripe reports that refund {refund_id} of {amount} on invoice {invoice.number} "
        f"{failure}: the customer got nothing back. {what}, the amount counts as not refunded, "
        "and it can be refunded again (refundInvoice) or settled with the customer another "
        "way.\n"
    )
    await notices.tell_billing_staff(
        session,
        key=f"refund:{refund_id}:failed",
        subject=f"Chirp billing: a refund of {amount} failed",
        text=f"{text}— Chirp billing\n",
    )
