"""Property tests of billing's arithmetic (models/billing/pricing.py): money is conserved,
nothing goes negative, credit carries forward, proration never exceeds the price. Seeded:
`derandomize` makes every run try the same examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.billing.catalogue import METERS, PLANS
from models.billing.money import EXPONENTS, MAX_AMOUNT, basis_points, format_money
from models.billing.pricing import (
    Discount,
    period_end_after,
    prorate,
    shift_months,
    totals,
    usage_amount,
)
from models.billing.tables import MONTH, YEAR

SEEDED = settings(derandomize=True, max_examples=300, deadline=None)
PRICES = sorted({a for plan in PLANS.values() for by in plan.prices.values() for a in by.values()})
amounts = st.integers(min_value=0, max_value=10**9)
lines = st.lists(st.integers(min_value=-(10**8), max_value=10**8), max_size=6)
discounts = st.one_of(
    st.none(),
    st.builds(Discount, percent_off=st.integers(min_value=1, max_value=100)),
    st.builds(Discount, amount_off=st.integers(min_value=1, max_value=10**8)),
)
tax_rates = st.sampled_from([0, 1000, 1900, 2000, 2100, 2300])
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@SEEDED
@given(lines, discounts, tax_rates, amounts)
def test_an_invoice_conserves_money_and_nothing_is_negative(
    amounts_: list[int], discount: Discount | None, tax_bp: int, balance: int
) -> None:
    t = totals(amounts_, discount=discount, tax_bp=tax_bp, balance=balance)

    assert t.subtotal - t.discount + t.tax == t.total
    assert t.amount_due == t.total - t.credit_applied
    # Every line, the credit balance's movements and what is charged add up.
    assert sum(amounts_) + t.credit_added == t.subtotal
    assert balance + t.credit_added - t.credit_applied == t.balance_after
    for value in (t.subtotal, t.discount, t.tax, t.total, t.credit_applied, t.amount_due):
        assert value >= 0
    assert t.balance_after >= 0 and t.discount <= t.subtotal
    assert t.tax == basis_points(t.subtotal - t.discount, tax_bp)


@SEEDED
@given(st.lists(st.tuples(lines, discounts), min_size=1, max_size=6), tax_rates, amounts)
def test_credit_carries_forward_across_successive_invoices(
    invoices: list[tuple[list[int], Discount | None]], tax_bp: int, opening: int
) -> None:
    balance, credited, used, charged = opening, 0, 0, 0
    for amounts_, discount in invoices:
        t = totals(amounts_, discount=discount, tax_bp=tax_bp, balance=balance)
        # Credit is used before anything is charged.
        assert t.amount_due == 0 or t.balance_after == 0
        balance = t.balance_after
        credited += t.credit_added
        used += t.credit_applied
        charged += t.amount_due

    assert balance == opening + credited - used >= 0


@SEEDED
@given(
    st.sampled_from(PRICES),
    st.sampled_from(PRICES),
    instants,
    st.sampled_from([MONTH, YEAR]),
    st.floats(min_value=0, max_value=1),
)
def test_proration_never_exceeds_the_price(
    old: int, new: int, anchor: datetime, interval: str, fraction: float
) -> None:
    end = period_end_after(anchor, anchor, interval)
    at = anchor + (end - anchor) * fraction

    split = prorate(old_amount=old, new_amount=new, period_start=anchor, period_end=end, at=at)

    assert 0 <= split.credit <= old and 0 <= split.charge <= new
    whole = prorate(old_amount=old, new_amount=new, period_start=anchor, period_end=end, at=anchor)
    assert (whole.credit, whole.charge) == (old, new)
    after = prorate(old_amount=old, new_amount=new, period_start=anchor, period_end=end, at=end)
    assert (after.credit, after.charge) == (0, 0)


@SEEDED
@given(instants, st.sampled_from([MONTH, YEAR]), st.integers(min_value=0, max_value=400))
def test_periods_follow_the_anchor_without_drift(
    anchor: datetime, interval: str, days: int
) -> None:
    start = anchor + timedelta(days=days)

    end = period_end_after(anchor, start, interval)

    step = 1 if interval == MONTH else 12
    boundaries = [shift_months(anchor, k * step) for k in range(0, 40)]
    # The end is the first boundary of the anchor's cycle after `start`, never a drifted day.
    assert end == next(b for b in boundaries if b > start)
    assert end.day == min(anchor.day, end.day) and end.time() == anchor.time()


@SEEDED
@given(st.integers(min_value=0, max_value=10**7), st.sampled_from(sorted(METERS["api_calls"])))
def test_usage_tiers_are_graduated_and_monotonic(units: int, currency: str) -> None:
    tiers = METERS["api_calls"][currency]

    amount = usage_amount(units, tiers)

    assert 0 <= amount <= usage_amount(units + 1000, tiers)
    assert usage_amount(0, tiers) == 0


@SEEDED
@given(st.integers(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT), st.sampled_from(sorted(EXPONENTS)))
def test_jpy_has_no_minor_unit_and_others_have_two(amount: int, currency: str) -> None:
    text = format_money(amount, currency)

    digits = text.lstrip("-").lstrip("$€£¥").replace(",", "")
    if currency == "JPY":
        assert "." not in digits and int(digits) == abs(amount)
    else:
        units, cents = digits.split(".")
        assert int(units) * 100 + int(cents) == abs(amount)


def test_a_jpy_upgrade_is_whole_yen() -> None:
    anchor = datetime(2026, 1, 31, tzinfo=UTC)
    end = period_end_after(anchor, anchor, MONTH)
    at = anchor + (end - anchor) / 3

    split = prorate(old_amount=700, new_amount=2000, period_start=anchor, period_end=end, at=at)
    t = totals([-split.credit, split.charge], discount=None, tax_bp=1000, balance=0)

    assert end == datetime(2026, 2, 28, tzinfo=UTC)
    assert (split.credit, split.charge) == (467, 1333)
    assert (t.subtotal, t.tax, t.total) == (866, 87, 953)
