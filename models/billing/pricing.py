"""Pure arithmetic of billing, no I/O: periods, proration, usage tiers and invoice totals.
The property tests in tests/unit/test_billing_pricing.py hold it to: money is conserved, no
total is negative, credit carries forward, a discount never applies to a credit, and tax follows
the money in both directions."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from models.billing.catalogue import Tier
from models.billing.money import basis_points, share
from models.billing.tables import MONTH


def shift_months(anchor: datetime, months: int) -> datetime:
    """`anchor` moved by whole months, the day clamped to the month's length (Jan 31 + 1
    month is Feb 28 or 29), so periods stay aligned to the anchor rather than drift."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    day = min(anchor.day, calendar.monthrange(year, month + 1)[1])
    return anchor.replace(year=year, month=month + 1, day=day)


def months_in(interval: str) -> int:
    return 1 if interval == MONTH else 12


def period_end_after(anchor: datetime, start: datetime, interval: str) -> datetime:
    """The first boundary of the anchor's cycle strictly after `start`."""
    step = months_in(interval)
    elapsed = (start.year - anchor.year) * 12 + start.month - anchor.month
    n = max(0, elapsed // step)
    end = shift_months(anchor, n * step)
    while end <= start:
        n += 1
        end = shift_months(anchor, n * step)
    return end


@dataclass(frozen=True)
class Proration:
    """Credit for the unused part of the old price and the charge for the rest of the period
    on the new one; both are whole minor units, neither above the full price."""

    credit: int
    charge: int


def prorate(
    *, old_amount: int, new_amount: int, period_start: datetime, period_end: datetime, at: datetime
) -> Proration:
    total = int((period_end - period_start).total_seconds())
    unused = min(max(int((period_end - at).total_seconds()), 0), total)
    if total <= 0:
        return Proration(0, 0)
    return Proration(share(old_amount, unused, total), share(new_amount, unused, total))


def unused_credit(
    *, amount: int, period_start: datetime, period_end: datetime, at: datetime
) -> int:
    return prorate(
        old_amount=amount, new_amount=0, period_start=period_start, period_end=period_end, at=at
    ).credit


def usage_amount(units: int, tiers: tuple[Tier, ...]) -> int:
    """Graduated tiers: each unit is priced by the tier it falls in."""
    amount = 0
    floor = 0
    for tier in tiers:
        ceiling = units if tier.up_to is None else min(units, tier.up_to)
        if ceiling > floor:
            amount += share(ceiling - floor, tier.per_thousand, 1000)
            floor = ceiling
        if tier.up_to is None or units <= tier.up_to:
            break
    return amount


@dataclass(frozen=True)
class Discount:
    percent_off: int | None = None
    amount_off: int | None = None


@dataclass(frozen=True)
class Line:
    """An invoice line for `totals`: a charge (positive) or a credit (negative). `tax_bp` is
    the rate the line is taxed at when it is not the invoice's: a credit gives back the tax at
    the rate that was charged on the money it returns."""

    amount: int
    tax_bp: int | None = None


@dataclass(frozen=True)
class Totals:
    """An invoice's arithmetic. `credit_added` is what a negative total (unused time worth
    more than the new charges, tax included) adds to the customer's balance; the invoice
    shows it as a line, so its lines add up to `subtotal` and `total` is never negative.
    `tax` is negative when the credits give back more tax than the charges owe.
    `balance_after` is the balance once this invoice has used what it could."""

    subtotal: int
    discount: int
    tax: int
    total: int
    credit_applied: int
    amount_due: int
    credit_added: int
    balance_after: int


def discount_off(charges: int, discount: Discount | None) -> int:
    """What a discount takes off an invoice's charges (never off its credits: a credit is
    for money already paid net of the discount)."""
    if discount is None or charges <= 0:
        return 0
    if discount.percent_off is not None:
        return basis_points(charges, discount.percent_off * 100)
    if discount.amount_off is not None:
        return min(discount.amount_off, charges)
    return 0


def signed_tax(amount: int, tax_bp: int) -> int:
    """Tax on a net amount at a rate, rounded the same way whichever its sign."""
    tax = basis_points(abs(amount), tax_bp)
    return tax if amount >= 0 else -tax


def totals(
    amounts: Sequence[int | Line], *, discount: Discount | None, tax_bp: int, balance: int
) -> Totals:
    """Charges less the discount, less the credits; tax on each rate's net, so a credit
    carries its own negative tax; a negative result, tax included, goes to the balance."""
    if balance < 0:
        raise ValueError("a credit balance is never negative")
    lines = [a if isinstance(a, Line) else Line(a) for a in amounts]
    net = sum(line.amount for line in lines)
    off = discount_off(sum(line.amount for line in lines if line.amount > 0), discount)
    by_rate: dict[int, int] = {tax_bp: -off}
    for line in lines:
        rate = tax_bp if line.tax_bp is None else line.tax_bp
        by_rate[rate] = by_rate.get(rate, 0) + line.amount
    tax = sum(signed_tax(amount, rate) for rate, amount in by_rate.items())
    credit_added = max(0, -(net - off + tax))
    subtotal = net + credit_added
    total = subtotal - off + tax
    available = balance + credit_added
    credit_applied = min(available, total)
    return Totals(
        subtotal=subtotal,
        discount=off,
        tax=tax,
        total=total,
        credit_applied=credit_applied,
        amount_due=total - credit_applied,
        credit_added=credit_added,
        balance_after=available - credit_applied,
    )
