"""Pure arithmetic of billing, no I/O: periods, proration, usage tiers and invoice totals.
The property tests in tests/unit/test_billing_pricing.py hold it to: money is conserved, no
total is negative, and credit carries forward."""

from __future__ import annotations

import calendar
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
class Totals:
    """An invoice's arithmetic. `credit_added` is what a negative net (unused time worth
    more than the new charges) adds to the customer's balance; `balance_after` is the
    balance once this invoice has used what it could."""

    subtotal: int
    discount: int
    tax: int
    total: int
    credit_applied: int
    amount_due: int
    credit_added: int
    balance_after: int


def totals(amounts: list[int], *, discount: Discount | None, tax_bp: int, balance: int) -> Totals:
    if balance < 0:
        raise ValueError("a credit balance is never negative")
    net = sum(amounts)
    credit_added = max(0, -net)
    subtotal = max(0, net)
    off = 0
    if discount is not None and subtotal > 0:
        if discount.percent_off is not None:
            off = basis_points(subtotal, discount.percent_off * 100)
        elif discount.amount_off is not None:
            off = min(discount.amount_off, subtotal)
    taxable = subtotal - off
    tax = basis_points(taxable, tax_bp)
    total = taxable + tax
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
