"""Invoices and what settles them: lines, payments, credit notes, disputes, and the record of
every Stripe event applied (one row per event id, written with its effect)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, utcnow

DRAFT = "draft"
OPEN = "open"
PAID = "paid"
VOID = "void"
UNCOLLECTIBLE = "uncollectible"

# Why an invoice exists.
SUBSCRIPTION_CREATE = "subscription_create"
SUBSCRIPTION_CYCLE = "subscription_cycle"
SUBSCRIPTION_UPDATE = "subscription_update"

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"

# Credit note states (a credit note's `pending` is PENDING above).
ISSUED = "issued"
# Issued (numbered), then Stripe reported its refund failed: it keeps its number (no gap) and
# no longer counts as refunded.
REVERSED = "reversed"

INVOICE_SERIES = "invoice"
CREDIT_NOTE_SERIES = "credit_note"


class DocumentCounter(Base):
    """The last number issued in a series; its row is locked while a number is taken, so
    numbers are sequential with no gaps (a number is taken only when a document is final)."""

    __tablename__ = "billing_document_counters"

    series: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_number: Mapped[int] = mapped_column(BigId, default=0)


class Invoice(Base):
    """What a customer owes for a period. Amounts are minor units of `currency`:
    total = subtotal - discount_total + tax_total; amount_due = total - credit_applied.
    A draft has no number; finalizing gives it the next one and makes it open."""

    __tablename__ = "billing_invoices"
    __table_args__ = (Index(None, "account_id", "id"), Index(None, "status", "created_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[int | None] = mapped_column(BigId, unique=True, default=None)
    # NULL once its account is deleted: the invoice is a tax record and outlives it.
    account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )
    subscription_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("billing_subscriptions.id", ondelete="SET NULL"), default=None
    )
    reason: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    subtotal: Mapped[int] = mapped_column(BigId, default=0)
    discount_total: Mapped[int] = mapped_column(BigId, default=0)
    tax_country: Mapped[str | None] = mapped_column(String(2), default=None)
    tax_rate_bp: Mapped[int] = mapped_column(default=0)
    tax_total: Mapped[int] = mapped_column(BigId, default=0)
    total: Mapped[int] = mapped_column(BigId, default=0)
    credit_applied: Mapped[int] = mapped_column(BigId, default=0)
    amount_due: Mapped[int] = mapped_column(BigId, default=0)
    amount_paid: Mapped[int] = mapped_column(BigId, default=0)
    amount_refunded: Mapped[int] = mapped_column(BigId, default=0)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InvoiceLine(Base):
    """One line: a plan's period, a proration credit (negative) or charge, or metered usage."""

    __tablename__ = "billing_invoice_lines"
    __table_args__ = (Index(None, "invoice_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    invoice_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("billing_invoices.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(BigId, default=1)
    amount: Mapped[int] = mapped_column(BigId)
    price_id: Mapped[int | None] = mapped_column(BigId, default=None)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Payment(Base):
    """One attempt to collect an invoice through a Stripe PaymentIntent."""

    __tablename__ = "billing_payments"
    __table_args__ = (Index(None, "invoice_id", "id"), Index(None, "status", "created_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    invoice_id: Mapped[int] = mapped_column(BigId, ForeignKey("billing_invoices.id"))
    # NULL once its account is deleted (kept with its invoice).
    account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )
    amount: Mapped[int] = mapped_column(BigId)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(
        String(64), unique=True, default=None
    )
    stripe_charge_id: Mapped[str | None] = mapped_column(String(64), default=None)
    payment_method_id: Mapped[int | None] = mapped_column(BigId, default=None)
    failure_code: Mapped[str] = mapped_column(String(64), default="")
    failure_message: Mapped[str] = mapped_column(String(300), default="")
    amount_refunded: Mapped[int] = mapped_column(BigId, default=0)
    # While a caller is talking to Stripe about this payment, others leave it alone.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CreditNote(Base):
    """A refund's document: numbered in its own gap-free series, against one invoice. It is
    written `pending` (no number) before Stripe is asked, so the amount is reserved and an
    interrupted refund can be finished; it is `issued` (numbered) once Stripe's refund
    succeeded, `failed` (never numbered) when Stripe refused or its refund failed, and
    `reversed` (numbered, no longer counted) when an issued one's refund failed later. A
    pending one with `stripe_refund_id` waits for Stripe to settle that refund.
    `claimed_until`: a pending one is being sent until then; after it, the next refund of the
    invoice finishes it."""

    __tablename__ = "billing_credit_notes"
    __table_args__ = (Index(None, "invoice_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[int | None] = mapped_column(BigId, unique=True, default=None)
    status: Mapped[str] = mapped_column(String(16), default=ISSUED)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    invoice_id: Mapped[int] = mapped_column(BigId, ForeignKey("billing_invoices.id"))
    payment_id: Mapped[int | None] = mapped_column(BigId, default=None)
    amount: Mapped[int] = mapped_column(BigId)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(500))
    stripe_refund_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Dispute(Base):
    """A chargeback Stripe told us about; `outcome` (won, lost) once it closes."""

    __tablename__ = "billing_disputes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    stripe_dispute_id: Mapped[str] = mapped_column(String(64), unique=True)
    stripe_charge_id: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[int | None] = mapped_column(BigId, default=None)
    account_id: Mapped[int | None] = mapped_column(BigId, default=None)
    amount: Mapped[int] = mapped_column(BigId)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StripeEvent(Base):
    """A Stripe webhook event, inserted in the same transaction as its effect: a duplicate
    delivery finds the row and does nothing."""

    __tablename__ = "billing_stripe_events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    stripe_created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
