"""Issuing invoices: lines, discount, tax, credit balance, and gap-free numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import conflict_insert
from models.billing import coupons
from models.billing.catalogue import tax_rate_bp
from models.billing.ledger import (
    DRAFT,
    INVOICE_SERIES,
    OPEN,
    PAID,
    DocumentCounter,
    Invoice,
    InvoiceLine,
)
from models.billing.money import share
from models.billing.pricing import Discount, Line, Totals, totals
from models.billing.tables import ONCE, BillingCustomer, Coupon, CouponRedemption

BALANCE_CREDIT = "balance_credit"
PRORATION_CHARGE = "proration_charge"


@dataclass(frozen=True)
class LineSpec:
    kind: str
    description: str
    amount: int
    period_start: datetime
    period_end: datetime
    quantity: int = 1
    price_id: int | None = None
    # A credit's tax rate when it is not the invoice's: the rate its money was charged at.
    tax_bp: int | None = None


@dataclass(frozen=True)
class Draft:
    """An invoice computed but not stored: what a preview shows and what issuing writes."""

    lines: tuple[LineSpec, ...]
    totals: Totals
    tax_rate_bp: int
    redemption: CouponRedemption | None


async def compute(
    session: AsyncSession,
    *,
    customer: BillingCustomer,
    currency: str,
    lines: list[LineSpec],
    redemption_id: int | None,
    period_start: datetime,
    period_end: datetime,
    plan_code: str,
    usage_only: bool = False,
) -> Draft:
    """The invoice these lines make for this customer now, without writing anything.
    `plan_code` is the plan the invoice bills (the new one on an upgrade): a coupon limited
    to other plans gives it no discount. An invoice of `usage_only` (an annual plan's month)
    gets a percentage off but no amount off: that is per period, and the invoice that
    charged the period took it."""
    discount, redemption = await coupons.discount_for(
        session,
        redemption_id=redemption_id,
        currency=currency,
        period_start=period_start,
        plan_code=plan_code,
    )
    discount = _prorated(discount, lines, period_start, period_end)
    if usage_only and discount is not None and discount.amount_off is not None:
        discount = None
    rate = tax_rate_bp(customer.country)
    result = totals(
        [Line(line.amount, line.tax_bp) for line in lines],
        discount=discount,
        tax_bp=rate,
        balance=customer.credit_balance,
    )
    all_lines = list(lines)
    if result.credit_added:
        all_lines.append(
            LineSpec(
                BALANCE_CREDIT,
                "Unused time added to your credit balance",
                result.credit_added,
                period_start,
                period_end,
            )
        )
    return Draft(tuple(all_lines), result, rate, redemption)


def _prorated(
    discount: Discount | None, lines: list[LineSpec], period_start: datetime, period_end: datetime
) -> Discount | None:
    """An amount off is per period: on an upgrade that charges the rest of a period, only
    that part of it (the credit for the old plan gave back the rest of what it took off)."""
    if discount is None or discount.amount_off is None:
        return discount
    whole = int((period_end - period_start).total_seconds())
    charged = [
        int((line.period_end - line.period_start).total_seconds())
        for line in lines
        if line.kind == PRORATION_CHARGE
    ]
    if not charged or whole <= 0:
        return discount
    return Discount(amount_off=share(discount.amount_off, min(max(charged), whole), whole))


async def take_number(session: AsyncSession, *, series: str) -> int:
    """The next number of a series. The counter row stays locked until the transaction ends,
    so concurrent issuers queue and a rolled-back transaction gives its number back."""
    insert = conflict_insert(session)
    await session.execute(
        insert(DocumentCounter)
        .values(series=series, last_number=0)
        .on_conflict_do_nothing(index_elements=["series"])
    )
    number = await session.scalar(
        update(DocumentCounter)
        .where(DocumentCounter.series == series)
        .values(last_number=DocumentCounter.last_number + 1)
        .returning(DocumentCounter.last_number)
    )
    assert number is not None
    return int(number)


async def issue(
    session: AsyncSession,
    *,
    customer: BillingCustomer,
    subscription_id: int | None,
    reason: str,
    currency: str,
    lines: list[LineSpec],
    redemption_id: int | None,
    period_start: datetime,
    period_end: datetime,
    plan_code: str,
    now: datetime,
    usage_only: bool = False,
) -> Invoice:
    """Write the invoice, use the customer's credit, spend a once-coupon, and finalize it:
    it gets the next number and is open, or paid at once when nothing is due."""
    draft = await compute(
        session,
        customer=customer,
        currency=currency,
        lines=lines,
        redemption_id=redemption_id,
        period_start=period_start,
        period_end=period_end,
        plan_code=plan_code,
        usage_only=usage_only,
    )
    t = draft.totals
    invoice = Invoice(
        account_id=customer.account_id,
        subscription_id=subscription_id,
        reason=reason,
        currency=currency,
        status=DRAFT,
        period_start=period_start,
        period_end=period_end,
        subtotal=t.subtotal,
        discount_total=t.discount,
        tax_country=customer.country,
        tax_rate_bp=draft.tax_rate_bp,
        tax_total=t.tax,
        total=t.total,
        credit_applied=t.credit_applied,
        amount_due=t.amount_due,
    )
    session.add(invoice)
    await session.flush()
    for spec in draft.lines:
        session.add(
            InvoiceLine(
                invoice_id=invoice.id,
                kind=spec.kind,
                description=spec.description,
                quantity=spec.quantity,
                amount=spec.amount,
                price_id=spec.price_id,
                period_start=spec.period_start,
                period_end=spec.period_end,
            )
        )
    customer.credit_balance = t.balance_after
    if draft.redemption is not None and t.discount > 0:
        coupon = await session.get(Coupon, draft.redemption.coupon_id)
        if coupon is not None and coupon.duration == ONCE:
            draft.redemption.spent = True
    await finalize(session, invoice=invoice, now=now)
    return invoice


async def finalize(session: AsyncSession, *, invoice: Invoice, now: datetime) -> None:
    invoice.number = await take_number(session, series=INVOICE_SERIES)
    invoice.finalized_at = now
    invoice.status = OPEN
    if invoice.amount_due == 0:
        invoice.status = PAID
        invoice.paid_at = now
    await session.flush()


async def lock_invoice(session: AsyncSession, *, invoice_id: int) -> Invoice | None:
    return await session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def open_invoices(session: AsyncSession, *, account_id: int) -> list[Invoice]:
    rows = await session.scalars(
        select(Invoice)
        .where(Invoice.account_id == account_id, Invoice.status == OPEN)
        .order_by(Invoice.id)
    )
    return list(rows)
