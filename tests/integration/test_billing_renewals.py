"""Renewals and metered usage through the billing sweep, against a real localstripe: periods
stay on their anchor (Jan 31), downgrades and cancellations take effect at the period's
end, and usage is billed in arrears once, above the included units, by graduated tiers.
Time moves by passing `now`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.runtime import Services
from app.settings import Settings
from models.billing import coupons, errors, renewals, subscriptions, usage
from models.billing.ledger import (
    OPEN,
    PAID,
    SUBSCRIPTION_CYCLE,
    SUBSCRIPTION_UPDATE,
    SUCCEEDED,
    VOID,
    Payment,
)
from models.billing.specs import CouponSpec, PromotionCodeSpec, SubscriptionSpec, UsageEvent
from models.billing.tables import (
    ACTIVE,
    CANCELED,
    INCOMPLETE,
    BillingCustomer,
    Coupon,
    CouponRedemption,
    PromotionCode,
    UsageRecord,
)
from tests.conftest import make_settings
from tests.support.backends import Database
from tests.support.billing import (
    DECLINED_CARD,
    GOOD_CARD,
    billing_of,
    billing_sweep,
    card_customer,
    invoices_of,
    lines_of,
    plan_now,
    subscriber_at,
    subscription_of,
    switch_card,
)
from tests.support.cli import run_cli_async
from tests.support.graphql import GraphQLClient
from tests.support.stripe import LocalStripe

JAN_31 = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
FEB_28 = datetime(2030, 2, 28, 12, 0, tzinfo=UTC)
MAR_31 = datetime(2030, 3, 31, 12, 0, tzinfo=UTC)
APR_30 = datetime(2030, 4, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(database: Database, localstripe: LocalStripe) -> Settings:
    # The servers' own sweep never ticks during a test: each test sweeps at its own `now`.
    return make_settings(
        database, stripe_api_base=localstripe.api_base, billing_sweep_interval=3600.0
    )


async def _record(
    services: Services, account_id: int, event_id: str, quantity: int, at: datetime
) -> UsageRecord:
    async with services.runtime.sessionmaker() as session, session.begin():
        return await usage.record_usage(
            session,
            UsageEvent(
                account_id=account_id,
                meter="api_calls",
                quantity=quantity,
                event_id=event_id,
                occurred_at=at,
            ),
            now=at,
        )


async def test_monthly_renewals_follow_a_jan_31_anchor(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31)

    early = await billing_sweep(services, FEB_28 - timedelta(seconds=1))
    first = await billing_sweep(services, FEB_28)
    again = await billing_sweep(services, FEB_28 + timedelta(hours=1))
    second = await billing_sweep(services, MAR_31)

    assert (early.renewed, first.renewed, again.renewed, second.renewed) == (0, 1, 0, 1)
    cycles = [i for i in await invoices_of(services, account_id) if i.reason == SUBSCRIPTION_CYCLE]
    assert [(i.period_start, i.period_end, i.total, i.status) for i in cycles] == [
        (FEB_28, MAR_31, 500, PAID),
        (MAR_31, APR_30, 500, PAID),
    ]
    subscription = await subscription_of(services, account_id)
    assert subscription.status == ACTIVE
    assert (subscription.current_period_start, subscription.current_period_end) == (
        MAR_31,
        APR_30,
    )


async def test_an_annual_renewal_bills_a_year_with_tax(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(
        services,
        gql,
        localstripe,
        "grace",
        now=JAN_31,
        interval="year",
        currency="EUR",
        country="DE",
    )
    next_year = datetime(2031, 1, 31, 12, 0, tzinfo=UTC)

    assert (await billing_sweep(services, next_year - timedelta(days=1))).renewed == 0
    assert (await billing_sweep(services, next_year)).renewed == 1

    cycle = (await invoices_of(services, account_id))[-1]
    assert (cycle.reason, cycle.currency, cycle.status) == (SUBSCRIPTION_CYCLE, "EUR", PAID)
    assert (cycle.period_start, cycle.period_end) == (
        next_year,
        datetime(2032, 1, 31, 12, 0, tzinfo=UTC),
    )
    assert (cycle.subtotal, cycle.tax_total, cycle.total) == (5000, 950, 5950)


async def test_a_pending_downgrade_takes_effect_at_renewal(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(
        services, gql, localstripe, "linus", now=JAN_31, plan_code="pro"
    )
    billing = services.runtime.billing
    assert billing is not None
    await subscriptions.change_plan(
        services.runtime.transactions,
        billing,
        account_id=account_id,
        plan_code="plus",
        interval="month",
        now=JAN_31 + timedelta(days=3),
    )
    assert await plan_now(services, account_id, FEB_28 - timedelta(minutes=1)) == "pro"

    await billing_sweep(services, FEB_28)

    cycle = (await invoices_of(services, account_id))[-1]
    assert await lines_of(services, cycle.id) == [("subscription", 1, 500)]
    subscription = await subscription_of(services, account_id)
    assert subscription.pending_price_id is None
    assert await plan_now(services, account_id, FEB_28) == "plus"
    await billing_sweep(services, MAR_31)
    assert (await invoices_of(services, account_id))[-1].total == 500


async def test_cancel_at_period_end_ends_the_plan_and_still_bills_its_usage(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31)
    await _record(services, account_id, "evt-1", 15_000, JAN_31 + timedelta(days=2))
    async with services.runtime.sessionmaker() as session, session.begin():
        await subscriptions.set_cancel_at_period_end(session, account_id=account_id, cancel=True)

    report = await billing_sweep(services, FEB_28)

    assert report.renewed == 1
    subscription = await subscription_of(services, account_id)
    assert (subscription.status, subscription.cancel_reason) == (CANCELED, "canceled_by_customer")
    assert subscription.canceled_at == FEB_28
    final = (await invoices_of(services, account_id))[-1]
    # 5,000 calls above the 10,000 included, at $0.20 per 1,000.
    assert await lines_of(services, final.id) == [("usage", 5000, 100)]
    assert (final.period_start, final.period_end, final.status) == (JAN_31, FEB_28, PAID)
    assert await plan_now(services, account_id, FEB_28) == "free"
    assert (await billing_sweep(services, MAR_31)).renewed == 0


async def test_usage_is_billed_in_arrears_once_above_the_included_units_by_tiers(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31)
    await _record(services, account_id, "evt-1", 10_000, JAN_31 + timedelta(days=1))
    await _record(services, account_id, "evt-2", 150_000, FEB_28 - timedelta(seconds=1))

    upcoming = await _upcoming(services, account_id, FEB_28 - timedelta(seconds=1))
    await billing_sweep(services, FEB_28)
    await billing_sweep(services, MAR_31)

    first, second = (await invoices_of(services, account_id))[-2:]
    # 150,000 above the included: 100,000 at $0.20 per 1,000, then 50,000 at $0.10.
    assert await lines_of(services, first.id) == [
        ("usage", 150_000, 2500),
        ("subscription", 1, 500),
    ]
    assert first.total == 3000 and first.status == PAID
    assert upcoming is not None and upcoming.totals.total == first.total
    assert await lines_of(services, second.id) == [("subscription", 1, 500)]
    async with services.runtime.read_sessionmaker() as session:
        billed_on = set(await session.scalars(select(UsageRecord.invoice_id)))
    assert billed_on == {first.id}


async def test_yen_usage_has_no_minor_unit(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(
        services, gql, localstripe, "kenji", now=JAN_31, currency="JPY", country="JP"
    )
    await _record(services, account_id, "evt-jp", 120_000, JAN_31 + timedelta(days=5))

    await billing_sweep(services, FEB_28)

    cycle = (await invoices_of(services, account_id))[-1]
    # 110,000 above the included: 100,000 at ¥30 per 1,000 and 10,000 at ¥15 per 1,000.
    assert await lines_of(services, cycle.id) == [
        ("usage", 110_000, 3150),
        ("subscription", 1, 700),
    ]
    assert (cycle.currency, cycle.subtotal, cycle.tax_total, cycle.total) == (
        "JPY",
        3850,
        385,
        4235,
    )


async def test_a_repeated_event_id_is_recorded_once_and_conflicting_contents_are_refused(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31)
    at = JAN_31 + timedelta(days=1)

    first = await _record(services, account_id, "evt-1", 100, at)
    repeat = await _record(services, account_id, "evt-1", 100, at)
    with pytest.raises(errors.UsageConflict) as conflict:
        await _record(services, account_id, "evt-1", 101, at)

    assert repeat.id == first.id
    assert conflict.value.code == "USAGE_EVENT_CONFLICT"
    async with services.runtime.read_sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(UsageRecord)) == 1
    await billing_sweep(services, FEB_28)
    # A producer retrying after the renewal still gets its record, not an error.
    assert (await _record(services, account_id, "evt-1", 100, at)).id == first.id
    with pytest.raises(errors.UsageOutsidePeriod):
        await _record(services, account_id, "evt-late", 100, at)


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"meter": "sms"}, errors.UnknownMeter, "meter"),
        ({"quantity": 0}, errors.InvalidAmount, "quantity"),
        ({"quantity": 10**9 + 1}, errors.InvalidAmount, "quantity"),
        ({"event_id": ""}, errors.InvalidAmount, "eventId"),
        ({"event_id": "x" * 101}, errors.InvalidAmount, "eventId"),
        ({"event_id": "evt\x00"}, errors.InvalidInput, "eventId"),
        ({"occurred_at": datetime(2030, 2, 1, 12)}, errors.UsageOutsidePeriod, "occurredAt"),
        ({"occurred_at": JAN_31 + timedelta(days=2)}, errors.UsageOutsidePeriod, "occurredAt"),
        ({"occurred_at": JAN_31 - timedelta(days=1)}, errors.UsageOutsidePeriod, "occurredAt"),
        ({"account_id": 0}, errors.NotSubscribed, "accountId"),
    ],
)
async def test_bad_usage_is_refused_with_a_field(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    change: dict[str, object],
    error: type[errors.DomainError],
    field: str,
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31)
    values: dict[str, object] = {
        "account_id": account_id,
        "meter": "api_calls",
        "quantity": 1,
        "event_id": "evt-bad",
        "occurred_at": JAN_31 + timedelta(days=1),
        **change,
    }

    with pytest.raises(error) as raised:
        async with services.runtime.sessionmaker() as session, session.begin():
            await usage.record_usage(session, UsageEvent(**values), now=JAN_31 + timedelta(days=1))

    assert raised.value.field == field


async def test_two_sweepers_at_once_renew_a_period_once(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31)
    await _record(services, account_id, "evt-1", 20_000, JAN_31 + timedelta(days=1))

    reports = await asyncio.gather(billing_sweep(services, FEB_28), billing_sweep(services, FEB_28))

    assert sum(r.renewed for r in reports) == 1
    cycles = [i for i in await invoices_of(services, account_id) if i.reason == SUBSCRIPTION_CYCLE]
    assert [(i.total, i.status) for i in cycles] == [(700, PAID)]


async def test_an_incomplete_subscription_expires_after_23_hours(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(
        services, gql, localstripe, "ada", now=JAN_31, card=DECLINED_CARD
    )
    assert (await subscription_of(services, account_id)).status == INCOMPLETE

    before = await billing_sweep(services, JAN_31 + timedelta(hours=22))
    after = await billing_sweep(services, JAN_31 + timedelta(hours=23))

    assert (before.expired, after.expired) == (0, 1)
    subscription = await subscription_of(services, account_id)
    assert (subscription.status, subscription.cancel_reason) == (CANCELED, "incomplete_expired")
    assert [i.status for i in await invoices_of(services, account_id)] == [VOID]


async def test_upcoming_invoice_is_none_without_a_renewing_subscription(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(
        services, gql, localstripe, "ada", now=JAN_31, card=DECLINED_CARD
    )

    assert await _upcoming(services, account_id, JAN_31) is None
    assert await _upcoming(services, 0, JAN_31) is None
    assert [i.status for i in await invoices_of(services, account_id)] == [OPEN]


async def _upcoming(services: Services, account_id: int, now: datetime) -> object:
    async with services.runtime.read_sessionmaker() as session:
        return await renewals.upcoming_invoice(session, account_id=account_id, now=now)


@pytest.mark.processes
async def test_chirp_billing_sweep_renews_at_the_given_time(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, settings: Settings
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31)
    env = {
        "DATABASE_URL": settings.database_url,
        "CHIRP_ENV": "test",
        "STRIPE_API_BASE": localstripe.api_base,
    }

    bad = await run_cli_async("billing", "sweep", "--now", "2030-02-28T12:00:00", **env)
    result = await run_cli_async("billing", "sweep", "--now", "2030-02-28T12:00:00Z", **env)
    again = await run_cli_async("billing", "sweep", "--now", "2030-02-28T12:00:00Z", **env)

    assert bad.returncode == 2 and "UTC offset" in bad.stderr
    assert result.returncode == 0, result.stderr
    assert "renewed 1" in result.stdout
    assert "renewed 0" in again.stdout
    assert (await invoices_of(services, account_id))[-1].period_start == FEB_28


async def test_an_upgrade_that_starts_a_new_period_bills_the_cut_short_usage_once(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ida", now=JAN_31)
    await _record(services, account_id, "evt-1", 60_000, JAN_31 + timedelta(days=1))
    switch = JAN_31 + timedelta(days=14)

    _, invoice = await subscriptions.change_plan(
        services.runtime.transactions,
        billing_of(services),
        account_id=account_id,
        plan_code="plus",
        interval="year",
        now=switch,
    )
    await billing_sweep(services, FEB_28)

    assert invoice is not None
    kinds = [kind for kind, _, _ in await lines_of(services, invoice.id)]
    assert kinds == ["usage", "proration_credit", "subscription"]
    # 50,000 above the 10,000 included at $0.20 per 1,000.
    assert (await lines_of(services, invoice.id))[0] == ("usage", 50_000, 1000)
    async with services.runtime.read_sessionmaker() as session:
        billed_on = set(await session.scalars(select(UsageRecord.invoice_id)))
    assert billed_on == {invoice.id}
    assert len(await invoices_of(services, account_id)) == 2


def _unavailable_once(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Stripe times out on the next PaymentIntent creation only; the amounts asked for."""
    gateway = billing_of(services).gateway
    real = gateway.create_intent
    amounts: list[int] = []

    async def flaky(**kwargs: Any) -> str:
        amounts.append(kwargs["amount"])
        if len(amounts) == 1:
            raise errors.PaymentProcessorUnavailable("Stripe did not answer.")
        return await real(**kwargs)

    monkeypatch.setattr(gateway, "create_intent", flaky)
    return amounts


async def test_the_sweep_collects_an_upgrade_invoice_whose_payment_timed_out(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31)
    amounts = _unavailable_once(services, monkeypatch)
    upgraded_at = JAN_31 + timedelta(days=14)
    with pytest.raises(errors.PaymentProcessorUnavailable):
        await subscriptions.change_plan(
            services.runtime.transactions,
            billing_of(services),
            account_id=account_id,
            plan_code="pro",
            interval="month",
            now=upgraded_at,
        )
    upgrade = (await invoices_of(services, account_id))[-1]
    assert (upgrade.reason, upgrade.status) == (SUBSCRIPTION_UPDATE, OPEN)

    early = await billing_sweep(services, upgraded_at + timedelta(minutes=5))
    later = await billing_sweep(services, upgraded_at + timedelta(minutes=11))

    assert (early.collected, later.collected, later.failed) == (0, 1, 0)
    assert (await invoices_of(services, account_id))[-1].status == PAID
    # The pending payment was continued (no second payment, one intent), not started again.
    assert amounts == [upgrade.amount_due, upgrade.amount_due]
    async with services.runtime.read_sessionmaker() as session:
        payments = list(
            await session.scalars(select(Payment).where(Payment.invoice_id == upgrade.id))
        )
    assert [p.status for p in payments] == [SUCCEEDED]
    assert (await subscription_of(services, account_id)).status == ACTIVE


async def test_the_sweep_collects_the_last_usage_invoice_of_a_canceled_subscription(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31)
    await _record(services, account_id, "evt-1", 15_000, JAN_31 + timedelta(days=2))
    async with services.runtime.sessionmaker() as session, session.begin():
        await subscriptions.set_cancel_at_period_end(session, account_id=account_id, cancel=True)
    _unavailable_once(services, monkeypatch)

    ended = await billing_sweep(services, FEB_28)
    final = (await invoices_of(services, account_id))[-1]
    assert (ended.renewed, final.status) == (1, OPEN)
    assert (await subscription_of(services, account_id)).status == CANCELED

    report = await billing_sweep(services, FEB_28 + timedelta(minutes=11))

    assert report.collected == 1
    assert (await invoices_of(services, account_id))[-1].status == PAID


async def test_one_invoice_that_fails_to_collect_does_not_stop_the_sweep(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31 - timedelta(hours=1))
    fine = await subscriber_at(services, gql, localstripe, "bob", now=JAN_31)
    gateway = billing_of(services).gateway
    real = gateway.create_intent
    broken_customer = (await _customer(services, broken)).stripe_customer_id

    async def refuses_one(**kwargs: Any) -> str:
        if kwargs["customer_id"] == broken_customer:
            raise RuntimeError("the SDK blew up")
        return await real(**kwargs)

    monkeypatch.setattr(gateway, "create_intent", refuses_one)

    report = await billing_sweep(services, FEB_28)

    assert (report.renewed, report.failed) == (2, 1)
    assert [i.status for i in await invoices_of(services, broken)] == [PAID, OPEN]
    assert [i.status for i in await invoices_of(services, fine)] == [PAID, PAID]
    broken_invoice = (await invoices_of(services, broken))[-1]
    [logged] = [r for r in caplog.records if r.name == "chirp.billing" and r.exc_info]
    assert f"invoice_id={broken_invoice.id}" in logged.getMessage()
    assert (await subscription_of(services, fine)).status == ACTIVE


async def test_an_expired_incomplete_subscription_gives_its_coupon_back(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    async with services.runtime.sessionmaker() as session, session.begin():
        coupon = await coupons.create_coupon(
            session,
            CouponSpec(
                name="Welcome",
                percent_off=50,
                amounts_off=(),
                duration="once",
                duration_months=None,
                plan_codes=(),
                max_redemptions=1,
                redeem_by=None,
                first_time_only=True,
            ),
        )
        promotion = await coupons.create_promotion_code(
            session,
            PromotionCodeSpec(
                coupon_id=coupon.id,
                code="WELCOME",
                max_redemptions=1,
                expires_at=None,
                first_time_only=False,
            ),
        )
    _, account_id = await card_customer(services, gql, localstripe, "ada", card=DECLINED_CARD)
    with pytest.raises(errors.PaymentFailed):
        await _subscribe_with_code(services, account_id, JAN_31)
    assert (await subscription_of(services, account_id)).redemption_id is not None

    report = await billing_sweep(services, JAN_31 + timedelta(hours=23))

    assert report.expired == 1
    async with services.runtime.read_sessionmaker() as session:
        counts = [
            await session.scalar(select(t.times_redeemed).where(t.id == i))
            for t, i in ((Coupon, coupon.id), (PromotionCode, promotion.id))
        ]
        redemptions = await session.scalar(select(func.count()).select_from(CouponRedemption))
    assert (counts, redemptions) == ([0, 0], 0)
    assert (await subscription_of(services, account_id)).redemption_id is None

    await switch_card(services, localstripe, account_id, GOOD_CARD)
    await _subscribe_with_code(services, account_id, JAN_31 + timedelta(days=1))

    again = (await invoices_of(services, account_id))[-1]
    assert (again.status, again.discount_total) == (PAID, 250)
    assert (await subscription_of(services, account_id)).status == ACTIVE


async def _subscribe_with_code(services: Services, account_id: int, now: datetime) -> None:
    await subscriptions.subscribe(
        services.runtime.transactions,
        billing_of(services),
        account_id=account_id,
        spec=SubscriptionSpec("plus", "month", "USD", "US", "WELCOME"),
        now=now,
    )


async def _customer(services: Services, account_id: int) -> BillingCustomer:
    async with services.runtime.read_sessionmaker() as session:
        customer = await session.get(BillingCustomer, account_id)
    assert customer is not None
    return customer
