"""Property tests of billing's arithmetic (models/billing/pricing.py): money is conserved,
nothing owed goes negative, credit carries forward, proration never exceeds the price, a
discount never applies to a credit, and tax follows the money in both directions. Seeded:
`derandomize` makes every run try the same examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.billing.catalogue import METERS, PLANS
from models.billing.money import EXPONENTS, MAX_AMOUNT, format_money
from models.billing.pricing import (
    Discount,
    Line,
    discount_off,
    period_end_after,
    prorate,
    shift_months,
    signed_tax,
    totals,
    usage_amount,
)
from models.billing.tables import MONTH, YEAR

SEEDED = settings(derandomize=True, max_examples=300, deadline=None)
FEWER = settings(derandomize=True, max_examples=100, deadline=None)
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
    for value in (t.subtotal, t.discount, t.total, t.credit_applied, t.amount_due):
        assert value >= 0
    assert t.balance_after >= 0 and t.discount <= t.subtotal
    # One rate: the tax is on what is left after the discount, whichever its sign.
    assert t.tax == signed_tax(sum(amounts_) - t.discount, tax_bp)
    # Nothing is both charged and credited: a negative result, tax included, is balance.
    assert t.total == 0 or t.credit_added == 0


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


charges = st.lists(st.integers(min_value=1, max_value=10**8), max_size=4)
credits = st.lists(st.integers(min_value=1, max_value=10**8), min_size=1, max_size=3)


@FEWER
@given(charges, credits, discounts, tax_rates, tax_rates)
def test_a_discount_never_applies_to_a_credit(
    charged: list[int], credited: list[int], discount: Discount | None, tax_bp: int, paid_bp: int
) -> None:
    with_credits: list[int | Line] = [*charged, *(Line(-c, paid_bp) for c in credited)]

    t = totals(with_credits, discount=discount, tax_bp=tax_bp, balance=0)
    alone = totals(charged, discount=discount, tax_bp=tax_bp, balance=0)

    # The discount is the charges' alone: a credit is already net of the discount it had.
    assert t.discount == alone.discount == discount_off(sum(charged), discount)
    assert t.discount <= sum(charged)
    # So each credit lowers what is owed by exactly itself and its tax, never by less.
    back = sum(credited) + signed_tax(sum(credited), paid_bp)
    if paid_bp != tax_bp:
        assert alone.total - back == t.total - t.credit_added
    else:  # one rate: the tax is rounded once on the net, so within a minor unit
        assert abs(alone.total - back - (t.total - t.credit_added)) <= 1


@FEWER
@given(charges, credits, discounts, tax_rates, tax_rates, amounts)
def test_tax_follows_the_money_in_both_directions(
    charged: list[int],
    credited: list[int],
    discount: Discount | None,
    tax_bp: int,
    paid_bp: int,
    balance: int,
) -> None:
    lines: list[int | Line] = [*charged, *(Line(-c, paid_bp) for c in credited)]

    t = totals(lines, discount=discount, tax_bp=tax_bp, balance=balance)

    # The charges owe tax at the invoice's rate, the credits give it back at the rate they
    # were charged at, each within half a minor unit of exact; whatever is left, tax
    # included, is paid or goes to the balance.
    exact = (sum(charged) - t.discount) * tax_bp - sum(credited) * paid_bp
    groups = 1 if paid_bp == tax_bp else 2
    assert abs(t.tax * 10_000 - exact) <= groups * 5_000
    assert t.total - t.credit_added == sum(charged) - t.discount - sum(credited) + t.tax
    assert t.balance_after - balance == t.credit_added - t.credit_applied
    # A credit on its own gives back exactly the tax a charge of it would have cost.
    refund = totals([Line(-c, paid_bp) for c in credited], discount=None, tax_bp=tax_bp, balance=0)
    charge = totals([sum(credited)], discount=None, tax_bp=paid_bp, balance=0)
    assert refund.tax == -charge.tax
    assert refund.credit_added == charge.total and refund.total == 0


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
