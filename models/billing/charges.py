"""What Stripe's charge events tell Chirp about a payment: which payment a charge belongs to,
that it was paid (a refunded or disputed charge was), and refunds made outside Chirp."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.billing import credit_notes, invoicing, payments
from models.billing.errors import InvalidWebhookPayload
from models.billing.gateway import IntentResult
from models.billing.ledger import PENDING, SUCCEEDED, CreditNote, Payment
from models.billing.money import MAX_AMOUNT
from models.billing.setup import BillingSetup

log = logging.getLogger("chirp.billing")

_CREDIT_NOTE_ID = re.compile(r"[0-9]{1,18}")


def text_field(obj: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    """A string field of a Stripe object, or an expanded object's id."""
    value = obj.get(key)
    if isinstance(value, Mapping):
        value = value.get("id")
    if isinstance(value, str) and 0 < len(value) <= 100:
        return value
    if value is None and not required:
        return None
    raise InvalidWebhookPayload(f"The Stripe object has no valid `{key}`.", field=key)


def amount_field(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT:
        raise InvalidWebhookPayload(f"The Stripe object has no valid `{key}`.", field=key)
    return value


async def find_payment(
    session: AsyncSession, *, charge_id: str | None, intent_id: str | None
) -> Payment | None:
    """The payment a charge belongs to (by charge, or by intent before the charge is known),
    locked for the transaction."""
    conditions = []
    if charge_id:
        conditions.append(Payment.stripe_charge_id == charge_id)
    if intent_id:
        conditions.append(Payment.stripe_payment_intent_id == intent_id)
    if not conditions:
        return None
    return await session.scalar(
        select(Payment)
        .where(or_(*conditions))
        .order_by(Payment.id)
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def settle_paid(
    session: AsyncSession,
    setup: BillingSetup,
    *,
    payment: Payment,
    charge_id: str | None,
    now: datetime,
) -> bool:
    """A charge that is refunded or disputed was paid: a payment still pending (its
    payment_intent.succeeded not applied yet) is settled now, so events apply in any order.
    True when this changed the payment."""
    if payment.status != PENDING or payment.stripe_payment_intent_id is None:
        return False
    result = IntentResult(payment.stripe_payment_intent_id, SUCCEEDED, charge_id, "", "")
    await payments.apply_intent_result(session, setup, result=result, now=now)
    return True


@dataclass(frozen=True)
class RecordedRefund:
    credit_note: CreditNote
    invoice_id: int
    refund_id: str


async def record_refunds(
    session: AsyncSession,
    setup: BillingSetup,
    *,
    charge: Mapping[str, Any],
    now: datetime,
) -> tuple[list[RecordedRefund], bool]:
    """Record the refunds of a charge.refunded event that Chirp has not recorded: one credit
    note per refund id, never more than the payment has left. Returns them, and whether the
    payment was settled by this event."""
    charge_id = text_field(charge, "id")
    intent_id = text_field(charge, "payment_intent", required=False)
    payment = await find_payment(session, charge_id=charge_id, intent_id=intent_id)
    if payment is None or payment.stripe_payment_intent_id is None:
        log.warning("charge.refunded for charge %s, which is not a Chirp payment", charge_id)
        return [], False
    settled = await settle_paid(session, setup, payment=payment, charge_id=charge_id, now=now)
    recorded = []
    for refund in _refunds(charge):
        # Only a refund that succeeded gave money back; one still pending is counted when
        # Stripe settles it (charge.refund.updated, refund_updates.py). No status: made at once.
        if refund.get("status", SUCCEEDED) != SUCCEEDED:
            continue
        refund_id = text_field(refund, "id")
        assert refund_id is not None
        ours = credit_note_id(refund)
        left = payment.amount - payment.amount_refunded
        amount = (
            amount_field(refund, "amount") if ours else min(amount_field(refund, "amount"), left)
        )
        if amount <= 0:
            continue
        note = await credit_notes.record_external_refund(
            session,
            stripe_refund_id=refund_id,
            intent_id=payment.stripe_payment_intent_id,
            amount=amount,
            now=now,
            credit_note_id=ours,
        )
        if note is not None:
            recorded.append(RecordedRefund(note, note.invoice_id, refund_id))
    if recorded:
        # A lost dispute may have counted this money back already (disputes.py): the invoice
        # never shows more refunded than paid, whichever was recorded first.
        invoice = await invoicing.lock_invoice(session, invoice_id=payment.invoice_id)
        assert invoice is not None
        invoice.amount_refunded = min(invoice.amount_refunded, invoice.amount_paid)
    return recorded, settled


def refunds_listed(charge: Mapping[str, Any]) -> bool:
    """Whether the charge carries all its refunds (Stripe leaves them out of charges since
    API version 2022-11-15 unless expanded; the webhook endpoint fetches them then)."""
    listing = charge.get("refunds")
    return (
        isinstance(listing, Mapping)
        and isinstance(listing.get("data"), list)
        and not listing.get("has_more")
    )


def _refunds(charge: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if not refunds_listed(charge):
        raise InvalidWebhookPayload("The charge does not list its refunds.", field="refunds")
    listing = charge["refunds"]["data"]
    found = [r for r in listing if isinstance(r, Mapping)]
    # Oldest first, so what is left of the payment goes to refunds in the order made.
    return sorted(found, key=lambda r: (r.get("created") or 0, str(r.get("id"))))


def credit_note_id(refund: Mapping[str, Any]) -> int | None:
    """The Chirp credit note a Stripe refund's metadata names, if it names one."""
    metadata = refund.get("metadata")
    value = metadata.get("chirp_credit_note_id") if isinstance(metadata, Mapping) else None
    # Only what Chirp writes, an id of up to 18 ASCII digits (a BIGINT holds any), is one;
    # anything else (a dashboard edit, "²", a number no column holds) is not Chirp's refund.
    if isinstance(value, str) and _CREDIT_NOTE_ID.fullmatch(value):
        return int(value)
    return None
