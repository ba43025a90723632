"""Reading the catalogue and classifying plan changes (pure once the prices are loaded)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.billing import errors
from models.billing.catalogue import PLANS
from models.billing.countries import ISO_3166_ALPHA_2
from models.billing.invoicing import BALANCE_CREDIT, PRORATION_CHARGE, LineSpec
from models.billing.ledger import PAID, Invoice, InvoiceLine
from models.billing.money import share
from models.billing.pricing import period_end_after, prorate, unused_credit
from models.billing.tables import INTERVALS, Price

SUBSCRIPTION = "subscription"
PRORATION_CREDIT = "proration_credit"


def check_plan(plan_code: str, interval: str) -> None:
    if plan_code not in PLANS or not PLANS[plan_code].prices:
        raise errors.UnknownPlan(f"No paid plan {plan_code!r}.", field="planCode")
    if interval not in INTERVALS:
        raise errors.UnknownPlan("interval must be month or year.", field="interval")


async def active_price(
    session: AsyncSession, *, plan_code: str, currency: str, interval: str
) -> Price:
    check_plan(plan_code, interval)
    price = await session.scalar(
        select(Price).where(
            Price.plan_code == plan_code,
            Price.currency == currency,
            Price.interval == interval,
            Price.active,
        )
    )
    if price is None:
        raise errors.UnknownPlan(
            f"{PLANS[plan_code].name} is not sold in {currency} per {interval}.",
            field="planCode",
        )
    return price


def describe(price: Price) -> str:
    per = "monthly" if price.interval == "month" else "annual"
    return f"Chirp {PLANS[price.plan_code].name} ({per})"


def plan_line(price: Price, start: datetime, end: datetime) -> LineSpec:
    return LineSpec(SUBSCRIPTION, describe(price), price.amount, start, end, price_id=price.id)


class ChangeKind(Enum):
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    UNDO_DOWNGRADE = "undo_downgrade"


def classify(old: Price, new: Price) -> ChangeKind:
    """A higher plan, or the same plan billed yearly instead of monthly, applies at once;
    anything else applies at the end of the period."""
    old_rank, new_rank = PLANS[old.plan_code].rank, PLANS[new.plan_code].rank
    if new_rank > old_rank:
        return ChangeKind.UPGRADE
    if new_rank == old_rank and old.interval == "month" and new.interval == "year":
        return ChangeKind.UPGRADE
    return ChangeKind.DOWNGRADE


@dataclass(frozen=True)
class Change:
    """What an immediate change bills now and the period the subscription is in after it."""

    lines: list[LineSpec]
    period_start: datetime
    period_end: datetime
    anchor: datetime


@dataclass(frozen=True)
class Paid:
    """What a period was paid at, per whole period, and the tax rate charged on it (None:
    the customer's rate of now, for a period no invoice shows)."""

    amount: int
    tax_bp: int | None = None


def upgrade(
    *,
    old: Price,
    new: Price,
    anchor: datetime,
    period_start: datetime,
    period_end: datetime,
    at: datetime,
    paid: Paid,
) -> Change:
    """Credit the unused time of what was paid for the old price (`paid`, per whole period:
    see `credit_basis`), with the tax it was charged; on the same interval charge the rest
    of the period at the new price, otherwise start a new period now at the new price."""
    paid_basis = paid.amount
    if old.interval == new.interval:
        split = prorate(
            old_amount=paid_basis,
            new_amount=new.amount,
            period_start=period_start,
            period_end=period_end,
            at=at,
        )
        lines = [
            LineSpec(
                PRORATION_CREDIT,
                f"Unused time on {describe(old)}",
                -split.credit,
                at,
                period_end,
                price_id=old.id,
                tax_bp=paid.tax_bp,
            ),
            LineSpec(
                PRORATION_CHARGE,
                f"Remaining time on {describe(new)}",
                split.charge,
                at,
                period_end,
                price_id=new.id,
            ),
        ]
        return Change(lines, period_start, period_end, anchor)
    credit = unused_credit(
        amount=paid_basis, period_start=period_start, period_end=period_end, at=at
    )
    end = period_end_after(at, at, new.interval)
    lines = [
        LineSpec(
            PRORATION_CREDIT,
            f"Unused time on {describe(old)}",
            -credit,
            at,
            period_end,
            price_id=old.id,
            tax_bp=paid.tax_bp,
        ),
        plan_line(new, at, end),
    ]
    return Change(lines, at, end, at)


async def credit_basis(
    session: AsyncSession,
    *,
    subscription_id: int,
    price: Price,
    period_start: datetime,
    period_end: datetime,
) -> Paid:
    """What the current period of `price` was actually paid at, per whole period: the line
    that bought it, less its share of the invoice's discount and of any refund, scaled up
    from a part period (a proration charge), with that invoice's tax rate. Credit for unused
    time is a share of this, so a discount or a refund never turns into credit balance, and
    the credit gives back the tax that was charged. Unpaid: nothing to credit."""
    row = (
        await session.execute(
            select(InvoiceLine, Invoice)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(
                Invoice.subscription_id == subscription_id,
                InvoiceLine.price_id == price.id,
                InvoiceLine.kind.in_((SUBSCRIPTION, PRORATION_CHARGE)),
                InvoiceLine.period_end == period_end,
            )
            .order_by(Invoice.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return Paid(price.amount)
    line, invoice = row
    if invoice.status != PAID or line.amount <= 0:
        return Paid(0, invoice.tax_rate_bp)
    charged = await session.scalar(
        select(func.coalesce(func.sum(InvoiceLine.amount), 0)).where(
            InvoiceLine.invoice_id == invoice.id,
            InvoiceLine.amount > 0,
            # Money moved to the balance is not a charge: the discount took nothing off it.
            InvoiceLine.kind != BALANCE_CREDIT,
        )
    )
    net = line.amount - share(invoice.discount_total, line.amount, max(int(charged or 0), 1))
    if invoice.amount_refunded and invoice.total:
        net -= share(net, min(invoice.amount_refunded, invoice.total), invoice.total)
    covered = int((line.period_end - line.period_start).total_seconds())
    whole = int((period_end - period_start).total_seconds())
    if covered <= 0 or whole <= covered:
        return Paid(max(net, 0), invoice.tax_rate_bp)
    return Paid(max(share(net, whole, covered), 0), invoice.tax_rate_bp)


def check_country(country: str | None) -> str | None:
    if country is None:
        return None
    upper = country.strip().upper()
    if upper not in ISO_3166_ALPHA_2:
        raise errors.InvalidCountry(
            "country must be an ISO 3166-1 alpha-2 code such as DE or US.", field="country"
        )
    return upper
