"""Reading billing for the API: prices, a customer's invoices (keyset pages), their lines and
credit notes in batches, payment methods."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.billing import money
from models.billing.ledger import (
    DRAFT,
    ISSUED,
    OPEN,
    PENDING,
    REVERSED,
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
)
from models.billing.tables import BillingCustomer, PaymentMethod, Price, Subscription

MAX_PAYMENT_METHODS = 20


async def active_prices(
    session: AsyncSession, *, plan_code: str | None, currency: str | None
) -> list[Price]:
    """The prices sold now, by plan, currency and interval; a currency Chirp does not bill
    in is UNSUPPORTED_CURRENCY."""
    stmt = select(Price).where(Price.active)
    if plan_code is not None:
        stmt = stmt.where(Price.plan_code == plan_code)
    if currency is not None:
        stmt = stmt.where(Price.currency == money.check_currency(currency))
    rows = await session.scalars(stmt.order_by(Price.plan_code, Price.currency, Price.interval))
    return list(rows)


async def prices_by_id(session: AsyncSession, ids: list[int]) -> dict[int, Price]:
    rows = await session.scalars(select(Price).where(Price.id.in_(ids)))
    return {row.id: row for row in rows}


async def customer(session: AsyncSession, *, account_id: int) -> BillingCustomer | None:
    return await session.get(BillingCustomer, account_id)


async def live_subscription(session: AsyncSession, *, account_id: int) -> Subscription | None:
    """The subscription that is not canceled, or else the one canceled last."""
    return await session.scalar(
        select(Subscription)
        .where(Subscription.account_id == account_id)
        .order_by((Subscription.status == "canceled").asc(), Subscription.id.desc())
        .limit(1)
    )


async def invoice_page(
    session: AsyncSession, *, account_id: int, first: int, before_id: int | None
) -> tuple[list[Invoice], bool]:
    """A page of the account's issued invoices (drafts excluded), newest first."""
    stmt = select(Invoice).where(Invoice.account_id == account_id, Invoice.status != DRAFT)
    if before_id is not None:
        stmt = stmt.where(Invoice.id < before_id)
    rows = list(await session.scalars(stmt.order_by(Invoice.id.desc()).limit(first + 1)))
    return rows[:first], len(rows) > first


async def invoice(session: AsyncSession, *, invoice_id: int) -> Invoice | None:
    return await session.get(Invoice, invoice_id)


async def latest_invoices(session: AsyncSession, ids: list[int]) -> dict[int, Invoice]:
    """The newest issued invoice of each of these subscriptions."""
    rows = await session.scalars(
        select(Invoice)
        .where(Invoice.subscription_id.in_(ids), Invoice.status != DRAFT)
        .order_by(Invoice.id)
    )
    latest: dict[int, Invoice] = {}
    for row in rows:
        assert row.subscription_id is not None
        latest[row.subscription_id] = row
    return latest


async def lines_of(session: AsyncSession, ids: list[int]) -> dict[int, list[InvoiceLine]]:
    rows = await session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id.in_(ids)).order_by(InvoiceLine.id)
    )
    found: dict[int, list[InvoiceLine]] = defaultdict(list)
    for row in rows:
        found[row.invoice_id].append(row)
    return dict(found)


async def credit_notes_of(session: AsyncSession, ids: list[int]) -> dict[int, list[CreditNote]]:
    """Every credit note of these invoices, whatever its status (see `shown_to_customer`)."""
    rows = await session.scalars(
        select(CreditNote).where(CreditNote.invoice_id.in_(ids)).order_by(CreditNote.id)
    )
    found: dict[int, list[CreditNote]] = defaultdict(list)
    for row in rows:
        found[row.invoice_id].append(row)
    return dict(found)


def shown_to_customer(note: CreditNote) -> bool:
    """Whether the invoice's customer sees this credit note: a refund made (issued), or made
    and then failed at the payment processor (reversed: it had a number and the customer may
    hold its document); not one under way or one refused."""
    return note.status in (ISSUED, REVERSED)


async def payment_methods(session: AsyncSession, *, account_id: int) -> list[PaymentMethod]:
    """The account's usable payment methods, oldest first (at most 20 are shown)."""
    rows = await session.scalars(
        select(PaymentMethod)
        .where(PaymentMethod.account_id == account_id, PaymentMethod.detached_at.is_(None))
        .order_by(PaymentMethod.id)
        .limit(MAX_PAYMENT_METHODS)
    )
    return list(rows)


async def waiting_intent(session: AsyncSession, *, invoice_id: int, account_id: int) -> str | None:
    """The Stripe intent of the account's open invoice's payment that waits for the customer
    (pending, not being made by anyone right now), if any."""
    return await session.scalar(
        select(Payment.stripe_payment_intent_id)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(
            Payment.invoice_id == invoice_id,
            Invoice.account_id == account_id,
            Invoice.status == OPEN,
            Payment.status == PENDING,
            Payment.stripe_payment_intent_id.is_not(None),
        )
        .order_by(Payment.id.desc())
        .limit(1)
    )
