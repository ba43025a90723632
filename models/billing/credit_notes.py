"""Credit notes: numbering one when its refund succeeded and counting the refund on the
invoice and payment; refunds Stripe reports that Chirp did not make (its dashboard); and
refunds that failed after all (`fail_refund`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.billing import invoicing, money
from models.billing.ledger import (
    CREDIT_NOTE_SERIES,
    FAILED,
    ISSUED,
    PENDING,
    REVERSED,
    CreditNote,
    Invoice,
    Payment,
)

EXTERNAL_REASON = "Refunded outside Chirp, through the payment processor."
# Stripe refund states in which nothing was given back.
VOID_REFUNDS = ("failed", "canceled")


async def issue(
    session: AsyncSession, *, credit_note_id: int, refund_id: str, now: datetime
) -> tuple[CreditNote, int | None]:
    """Number the credit note and count its refund; returns it with the invoice's refunded
    amount before, or None as that amount when it was issued already (by a webhook)."""
    invoice_id = await session.scalar(
        select(CreditNote.invoice_id).where(CreditNote.id == credit_note_id)
    )
    assert invoice_id is not None
    invoice = await invoicing.lock_invoice(session, invoice_id=invoice_id)
    note = await session.get(CreditNote, credit_note_id, with_for_update=True)
    assert invoice is not None and note is not None
    if note.status != PENDING:
        return note, None
    recorded = await session.scalar(
        select(CreditNote).where(
            CreditNote.stripe_refund_id == refund_id, CreditNote.id != credit_note_id
        )
    )
    if recorded is not None:
        # Recorded as an external refund before we could: one refund, one credit note.
        note.status, note.claimed_until = FAILED, None
        return recorded, None
    before = invoice.amount_refunded
    await count_refund(session, note=note, invoice=invoice, refund_id=refund_id, now=now)
    return note, before


async def count_refund(
    session: AsyncSession, *, note: CreditNote, invoice: Invoice, refund_id: str, now: datetime
) -> None:
    note.number = await invoicing.take_number(session, series=CREDIT_NOTE_SERIES)
    note.status, note.issued_at, note.claimed_until = ISSUED, now, None
    note.stripe_refund_id = refund_id
    # Capped at what was paid, as charges.record_refunds caps it: a lost dispute may have
    # counted the money as given back already.
    invoice.amount_refunded = min(invoice.amount_paid, invoice.amount_refunded + note.amount)
    if note.payment_id is not None:
        payment = await session.get(Payment, note.payment_id, with_for_update=True)
        if payment is not None:
            payment.amount_refunded = min(payment.amount, payment.amount_refunded + note.amount)
    await session.flush()


async def record_external_refund(
    session: AsyncSession,
    *,
    stripe_refund_id: str,
    intent_id: str,
    amount: int,
    now: datetime,
    credit_note_id: int | None = None,
) -> CreditNote | None:
    """Record a refund Stripe reports (charge.refunded), in the caller's transaction. Pass the
    refund's metadata `chirp_credit_note_id` when it has one: Chirp's own refund, whose answer
    may not have been recorded yet, is then issued rather than counted twice. Returns the credit
    note issued, or None when the refund is recorded already or its payment is not Chirp's.
    Not audited here: the caller audits last in its transaction if it wants to."""
    money.check_amount(amount, field="amount")
    payment_invoice = await session.scalar(
        select(Payment.invoice_id).where(Payment.stripe_payment_intent_id == intent_id)
    )
    if payment_invoice is None:
        return None
    invoice = await invoicing.lock_invoice(session, invoice_id=payment_invoice)
    assert invoice is not None
    known = await session.scalar(
        select(CreditNote)
        .where(CreditNote.stripe_refund_id == stripe_refund_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if known is not None:
        if known.status != PENDING:
            return None
        # Chirp's refund Stripe answered `pending`: it has succeeded now.
        await count_refund(
            session, note=known, invoice=invoice, refund_id=stripe_refund_id, now=now
        )
        return known
    if credit_note_id is not None:
        ours = await session.get(CreditNote, credit_note_id, with_for_update=True)
        if ours is not None and ours.invoice_id == invoice.id and ours.status == PENDING:
            await count_refund(
                session, note=ours, invoice=invoice, refund_id=stripe_refund_id, now=now
            )
            return ours
    payment = await session.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == intent_id)
    )
    assert payment is not None
    note = CreditNote(
        invoice_id=invoice.id,
        payment_id=payment.id,
        amount=amount,
        currency=invoice.currency,
        reason=EXTERNAL_REASON,
        status=PENDING,
    )
    session.add(note)
    await session.flush()
    await count_refund(session, note=note, invoice=invoice, refund_id=stripe_refund_id, now=now)
    return note


async def await_refund(session: AsyncSession, *, credit_note_id: int, refund_id: str) -> CreditNote:
    """Stripe took the pending credit note's refund without settling it: the note keeps the
    amount reserved, no number, and the refund's id, so the refund's webhook settles it and
    no later refund of the invoice sends it again. A note settled meanwhile is returned as
    it is."""
    invoice_id = await session.scalar(
        select(CreditNote.invoice_id).where(CreditNote.id == credit_note_id)
    )
    assert invoice_id is not None
    await invoicing.lock_invoice(session, invoice_id=invoice_id)
    note = await session.get(
        CreditNote, credit_note_id, with_for_update=True, populate_existing=True
    )
    assert note is not None
    if note.status == PENDING and note.stripe_refund_id is None:
        note.stripe_refund_id, note.claimed_until = refund_id, None
        await session.flush()
    return note


async def fail_refund(
    session: AsyncSession,
    *,
    refund_id: str,
    credit_note_id: int | None,
    failure: str,
    now: datetime,
) -> CreditNote | None:
    """Stripe reports the refund failed or was canceled: nothing was given back. A pending
    credit note of it fails (no number; its amount can be refunded again); an issued one is
    reversed: it keeps its number (numbers have no gaps), and its amount no longer counts as
    refunded on the invoice and the payment. The staff reason is annotated either way.
    Returns the note changed, or None when there is none or it was settled so already."""
    note_id = await session.scalar(
        select(CreditNote.id).where(CreditNote.stripe_refund_id == refund_id)
    )
    if note_id is None and credit_note_id is not None:
        # Chirp's own refund, whose answer was not recorded yet.
        note_id = await session.scalar(
            select(CreditNote.id).where(
                CreditNote.id == credit_note_id,
                CreditNote.stripe_refund_id.is_(None),
                CreditNote.status == PENDING,
            )
        )
    if note_id is None:
        return None
    invoice_id = await session.scalar(select(CreditNote.invoice_id).where(CreditNote.id == note_id))
    assert invoice_id is not None
    invoice = await invoicing.lock_invoice(session, invoice_id=invoice_id)
    note = await session.get(CreditNote, note_id, with_for_update=True, populate_existing=True)
    assert invoice is not None and note is not None
    if note.status not in (PENDING, ISSUED):
        return None
    note.reason = _annotated(note.reason, failure=failure, now=now)
    note.stripe_refund_id, note.claimed_until = refund_id, None
    if note.status == PENDING:
        note.status = FAILED
    else:
        note.status = REVERSED
        invoice.amount_refunded = max(0, invoice.amount_refunded - note.amount)
        if note.payment_id is not None:
            payment = await session.get(Payment, note.payment_id, with_for_update=True)
            if payment is not None:
                payment.amount_refunded = max(0, payment.amount_refunded - note.amount)
    await session.flush()
    return note


def _annotated(reason: str, *, failure: str, now: datetime) -> str:
    note = f" [Refund {failure} at the payment processor on {now.date().isoformat()}.]"
    return reason[: 500 - len(note)] + note
