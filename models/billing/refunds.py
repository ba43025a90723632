"""Refunds: a paid invoice's payment given back in full or in part through Stripe, each with
a numbered credit note (`credit_notes.py` issues it, and records refunds made outside Chirp).

A refund counts as refunded only once Stripe says it succeeded. One Stripe answers `pending`
keeps its credit note pending (the amount reserved, no number) with the refund's id, until
Stripe's `charge.refund.updated` settles it (`refund_updates.py`).

A refund is reserved before Stripe is asked: under the invoice's lock, a pending credit note
takes the amount, so two refunds of the same remainder cannot both pass the check, and a crash
between Stripe's answer and our commit leaves a record to finish rather than money lost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit.actions import Actor, record_entry, require_reason
from models.base import utcnow
from models.billing import credit_notes, errors, idempotency, invoicing, money
from models.billing.gateway import RefundResult
from models.billing.ledger import (
    FAILED,
    PAID,
    PENDING,
    SUCCEEDED,
    CreditNote,
    Invoice,
    Payment,
)
from models.billing.setup import BillingSetup
from models.errors import NotFound
from models.transactions import Transactions

# Longer than any Stripe call takes (settings cap its timeout at 60 s): a pending credit note
# claimed longer ago than this was interrupted, and the next refund of its invoice finishes it.
CLAIM = timedelta(minutes=2)
# The refund's metadata names its credit note, so a lost answer can be found again at Stripe.
CREDIT_NOTE_METADATA = "chirp_credit_note_id"


@dataclass(frozen=True)
class _Claim:
    credit_note_id: int
    intent_id: str
    amount: int
    reason: str
    resumed: bool


async def refund_invoice(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    actor: Actor,
    invoice_id: int,
    amount: int | None,
    reason: str,
    now: datetime | None = None,
) -> CreditNote:
    """Refund a paid invoice, all that is left (`amount` None) or part of it, through Stripe,
    and issue the credit note. An interrupted refund of the invoice is finished first; when it
    is for the same amount, this call was its retry and returns its credit note."""
    now = now or utcnow()
    reason = require_reason(reason)
    if amount is not None:
        money.check_amount(amount, field="amount")
    resumed: CreditNote | None = None
    while True:
        async with transactions.begin() as session:
            leftover = await _claim_interrupted(session, invoice_id=invoice_id, now=now)
        if leftover is None:
            break
        resumed = await _send(transactions, setup, claim=leftover, actor=actor, now=now)
    if resumed is not None and amount in (None, resumed.amount):
        async with transactions.session() as session:
            left = await _refundable(session, invoice_id=invoice_id)
        if amount is not None or left == 0:
            return resumed
    async with transactions.begin() as session:
        claim = await _reserve(
            session, actor=actor, invoice_id=invoice_id, amount=amount, reason=reason, now=now
        )
    return await _send(transactions, setup, claim=claim, actor=actor, now=now)


async def _paid_with(session: AsyncSession, *, invoice_id: int) -> tuple[Invoice, Payment]:
    """The invoice, locked, and the succeeded payment that settled it."""
    invoice = await invoicing.lock_invoice(session, invoice_id=invoice_id)
    if invoice is None:
        raise NotFound("No such invoice.", field="invoiceId")
    payment = await session.scalar(
        select(Payment)
        .where(
            Payment.invoice_id == invoice.id,
            Payment.status == SUCCEEDED,
            Payment.stripe_payment_intent_id.is_not(None),
        )
        .order_by(Payment.id.desc())
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice.status != PAID or payment is None:
        raise errors.InvoiceNotRefundable(
            f"Only a paid invoice with a card payment can be refunded; this one is "
            f"{invoice.status}.",
            field="invoiceId",
        )
    return invoice, payment


async def _refundable(session: AsyncSession, *, invoice_id: int) -> int:
    invoice, payment = await _paid_with(session, invoice_id=invoice_id)
    return await _left(session, invoice=invoice, payment=payment)


async def _left(session: AsyncSession, *, invoice: Invoice, payment: Payment) -> int:
    """What can still be refunded: paid, less refunded, less refunds under way."""
    reserved = await session.scalar(
        select(func.coalesce(func.sum(CreditNote.amount), 0)).where(
            CreditNote.invoice_id == invoice.id, CreditNote.status == PENDING
        )
    )
    left = min(
        payment.amount - payment.amount_refunded, invoice.amount_paid - invoice.amount_refunded
    )
    return max(0, left - int(reserved or 0))


async def _reserve(
    session: AsyncSession,
    *,
    actor: Actor,
    invoice_id: int,
    amount: int | None,
    reason: str,
    now: datetime,
) -> _Claim:
    invoice, payment = await _paid_with(session, invoice_id=invoice_id)
    left = await _left(session, invoice=invoice, payment=payment)
    wanted = left if amount is None else amount
    if wanted <= 0 or wanted > left:
        raise errors.RefundTooLarge(
            f"At most {money.format_money(left, invoice.currency)} of this invoice can be "
            "refunded (what was paid, less what is refunded or being refunded).",
            field="amount",
        )
    note = CreditNote(
        invoice_id=invoice.id,
        payment_id=payment.id,
        amount=wanted,
        currency=invoice.currency,
        reason=reason[:500],
        status=PENDING,
        claimed_until=now + CLAIM,
        created_by_id=actor.account_id,
    )
    session.add(note)
    await session.flush()
    assert payment.stripe_payment_intent_id is not None
    return _Claim(note.id, payment.stripe_payment_intent_id, wanted, note.reason, resumed=False)


async def _claim_interrupted(
    session: AsyncSession, *, invoice_id: int, now: datetime
) -> _Claim | None:
    """Take over a pending credit note of the invoice whose refund was interrupted (not one
    Stripe took and has not settled yet: that one has its refund id)."""
    await _paid_with(session, invoice_id=invoice_id)
    note = await session.scalar(
        select(CreditNote)
        .where(
            CreditNote.invoice_id == invoice_id,
            CreditNote.status == PENDING,
            CreditNote.stripe_refund_id.is_(None),
            (CreditNote.claimed_until.is_(None)) | (CreditNote.claimed_until < now),
        )
        .order_by(CreditNote.id)
        .limit(1)
    )
    if note is None:
        return None
    payment = await session.get(Payment, note.payment_id)
    assert payment is not None and payment.stripe_payment_intent_id is not None
    note.claimed_until = now + CLAIM
    return _Claim(note.id, payment.stripe_payment_intent_id, note.amount, note.reason, True)


async def _send(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    claim: _Claim,
    actor: Actor,
    now: datetime,
) -> CreditNote:
    """Ask Stripe for the claimed refund (once: a stored key, and for a resumed one a search
    by metadata), then issue its credit note once the refund succeeded."""
    key = f"chirp-refund-{claim.credit_note_id}"
    gateway = setup.gateway
    try:
        stored = await idempotency.reserve(transactions, key=key, operation="refund.create")
        # A stored answer was recorded with its credit note's outcome in one transaction.
        result = None if stored is None else RefundResult(stored, SUCCEEDED)
        if result is None and claim.resumed:
            result = await gateway.find_refund(
                intent_id=claim.intent_id,
                metadata_key=CREDIT_NOTE_METADATA,
                value=str(claim.credit_note_id),
            )
        if result is None:
            result = await gateway.refund(
                intent_id=claim.intent_id,
                amount=claim.amount,
                reason=claim.reason,
                key=key,
                metadata={CREDIT_NOTE_METADATA: str(claim.credit_note_id)},
            )
    except errors.PaymentProcessorUnavailable:
        # Whether Stripe refunded is unknown: a retry may finish it at once (same key).
        async with transactions.begin() as session:
            note = await session.get(CreditNote, claim.credit_note_id, with_for_update=True)
            if note is not None and note.status == PENDING:
                note.claimed_until = None
        raise
    except errors.RefundRefused:
        # Nothing was refunded: the reservation ends without a number (no gap). The refusal
        # is audited by the caller, as every refused staff action is (resolvers.staff).
        async with transactions.begin() as session:
            note = await session.get(CreditNote, claim.credit_note_id, with_for_update=True)
            if note is not None and note.status == PENDING:
                note.status, note.claimed_until = FAILED, None
        raise
    refund_id = result.refund_id
    if result.status != SUCCEEDED:
        return await _unsettled(transactions, claim=claim, key=key, result=result, actor=actor)
    async with transactions.begin() as session:
        await idempotency.complete(session, key=key, result_id=refund_id)
        note, before = await credit_notes.issue(
            session, credit_note_id=claim.credit_note_id, refund_id=refund_id, now=now
        )
        # Audited even when Stripe's webhook issued the credit note first (`before` None):
        # the refund is still this actor's.
        await record_entry(
            session,
            actor=actor,
            action="billing.refund",
            target_type="invoice",
            target_id=note.invoice_id,
            reason=note.reason,
            before=None if before is None else {"amount_refunded": before},
            after={
                **({} if before is None else {"amount_refunded": before + note.amount}),
                "amount": note.amount,
                "currency": note.currency,
                "credit_note_number": note.number,
                "stripe_refund_id": refund_id,
            },
        )
        return note


async def _unsettled(
    transactions: Transactions, *, claim: _Claim, key: str, result: RefundResult, actor: Actor
) -> CreditNote:
    """Stripe took the refund but it has not succeeded: `pending` (or `requires_action`)
    keeps the credit note pending with the refund's id, the amount reserved and nothing
    counted, until charge.refund.updated settles it; `failed` or `canceled` fails it at once
    (REFUND_REFUSED: nothing was refunded). A webhook may have settled it already."""
    async with transactions.begin() as session:
        await idempotency.complete(session, key=key, result_id=result.refund_id)
        note = await credit_notes.await_refund(
            session, credit_note_id=claim.credit_note_id, refund_id=result.refund_id
        )
        if note.status == PENDING and result.status in credit_notes.VOID_REFUNDS:
            note.status, note.claimed_until = FAILED, None
        if note.status == PENDING:
            await record_entry(
                session,
                actor=actor,
                action="billing.refund",
                target_type="invoice",
                target_id=note.invoice_id,
                reason=note.reason,
                after={
                    "amount": note.amount,
                    "currency": note.currency,
                    "status": result.status,
                    "stripe_refund_id": result.refund_id,
                },
            )
    if note.status == FAILED:
        raise errors.RefundRefused(
            "The payment processor did not make the refund; nothing was refunded.",
            field="amount",
        )
    return note
