"""Collecting payments against a real localstripe: what a card that needs 3-D Secure does on
and off session, a change of card while a payment is pending, concurrent collection of one
invoice, and an upgrade nobody can pay for."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.runtime import Services
from models.billing import coupons, customers, entitlements, errors, payments, subscriptions
from models.billing.ledger import (
    FAILED,
    OPEN,
    PAID,
    PENDING,
    SUCCEEDED,
    Invoice,
    InvoiceLine,
    Payment,
)
from models.billing.specs import CouponSpec
from models.billing.tables import ACTIVE, INCOMPLETE, PAST_DUE, BillingCustomer, PaymentMethod
from tests.support.billing import (
    GOOD_CARD,
    THREE_D_SECURE_CARD,
    billing_of,
    billing_sweep,
    card_customer,
    subscribe_in_domain,
    subscriber_at,
    subscription_of,
    switch_card,
)
from tests.support.graphql import GraphQLClient
from tests.support.stripe import LocalStripe
from tests.support.stripe_proxy import (  # noqa: F401 - the `proxy` and `settings` fixtures
    RecordingProxy,
    proxied_settings,
    proxy_fixture,
)

JAN_1 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
FEB_1 = datetime(2030, 2, 1, 12, 0, tzinfo=UTC)


async def payments_of(services: Services, account_id: int) -> list[Payment]:
    async with services.runtime.read_sessionmaker() as session:
        found = await session.scalars(
            select(Payment).where(Payment.account_id == account_id).order_by(Payment.id)
        )
        return list(found)


async def test_a_renewal_that_needs_authentication_fails_and_starts_dunning(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "sca", now=JAN_1)
    await switch_card(services, localstripe, account_id, THREE_D_SECURE_CARD)

    await billing_sweep(services, FEB_1)

    renewal = (await payments_of(services, account_id))[-1]
    assert (renewal.status, renewal.failure_code) == (FAILED, "authentication_required")
    assert (await subscription_of(services, account_id)).status == PAST_DUE
    client = localstripe.client(services.runtime.settings)
    intent = await client.v1.payment_intents.retrieve_async(str(renewal.stripe_payment_intent_id))
    assert intent.status == "canceled"


async def test_a_first_payment_that_needs_authentication_waits_and_a_new_card_replaces_it(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    _, account_id = await card_customer(
        services, gql, localstripe, "sca_first", card=THREE_D_SECURE_CARD
    )
    await subscribe_in_domain(services, account_id)
    [waiting] = await payments_of(services, account_id)
    billing = billing_of(services)
    secret = await billing.gateway.client_secret(intent_id=str(waiting.stripe_payment_intent_id))
    assert waiting.status == PENDING and secret is not None and secret.startswith("pi_")
    assert (await subscription_of(services, account_id)).status == INCOMPLETE

    await switch_card(services, localstripe, account_id, GOOD_CARD)
    await payments.pay_open_invoices(services.runtime.transactions, billing, account_id=account_id)

    old, new = await payments_of(services, account_id)
    assert (old.status, old.failure_code) == (FAILED, payments.SUPERSEDED)
    assert new.status == SUCCEEDED
    assert (await subscription_of(services, account_id)).status == ACTIVE
    client = localstripe.client(services.runtime.settings)
    intent = await client.v1.payment_intents.retrieve_async(str(old.stripe_payment_intent_id))
    assert intent.status == "canceled"


async def test_concurrent_collection_of_one_invoice_makes_one_payment_intent(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, proxy: RecordingProxy
) -> None:
    _, account_id = await card_customer(services, gql, localstripe, "racer")
    await switch_card(services, localstripe, account_id, THREE_D_SECURE_CARD)
    await subscribe_in_domain(
        services, account_id
    )  # leaves the first invoice open, its intent waiting
    await switch_card(services, localstripe, account_id, GOOD_CARD)
    async with services.runtime.read_sessionmaker() as session:
        invoice = await session.scalar(select(Invoice).where(Invoice.account_id == account_id))
    assert invoice is not None and invoice.status == OPEN
    before = len(proxy.keys("POST", "/v1/payment_intents"))

    await asyncio.gather(
        *(
            payments.collect(
                services.runtime.transactions, billing_of(services), invoice_id=invoice.id
            )
            for _ in range(4)
        )
    )

    assert len(proxy.keys("POST", "/v1/payment_intents")) == before + 1
    succeeded = [p for p in await payments_of(services, account_id) if p.status == SUCCEEDED]
    assert len(succeeded) == 1
    async with services.runtime.read_sessionmaker() as session:
        paid = await session.get(Invoice, invoice.id)
    assert paid is not None and paid.status == PAID and paid.amount_paid == paid.amount_due


async def test_an_upgrade_without_a_payment_method_changes_nothing(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "nocard", now=JAN_1)
    async with services.runtime.sessionmaker() as session, session.begin():
        [method] = await session.scalars(
            select(PaymentMethod.id).where(PaymentMethod.account_id == account_id)
        )
        await customers.remove_payment_method(
            session, account_id=account_id, payment_method_id=method
        )

    with pytest.raises(errors.NoPaymentMethod):
        await subscriptions.change_plan(
            services.runtime.transactions,
            billing_of(services),
            account_id=account_id,
            plan_code="pro",
            interval="month",
            now=JAN_1 + timedelta(days=3),
        )

    subscription = await subscription_of(services, account_id)
    async with services.runtime.read_sessionmaker() as session:
        invoices = list(
            await session.scalars(select(Invoice).where(Invoice.account_id == account_id))
        )
    assert subscription.status == ACTIVE and len(invoices) == 1
    async with services.runtime.read_sessionmaker() as session:
        plan = await entitlements.current_plan(session, account_id=account_id, now=JAN_1)
    assert plan == "plus"


async def _offer(services: Services, code: str, percent_off: int) -> None:
    spec = CouponSpec(
        name=code,
        percent_off=percent_off,
        amounts_off=(),
        duration="once",
        duration_months=None,
        plan_codes=(),
        max_redemptions=None,
        redeem_by=None,
        first_time_only=False,
    )
    async with services.runtime.sessionmaker() as session, session.begin():
        await coupons.create_offer(session, spec, code=code)


@pytest.mark.parametrize(
    ("percent_off", "interval", "credit"),
    [
        (100, "year", 0),  # nothing was paid: no credit, not 5000 of balance
        (50, "month", 125),  # half of the 250 paid for the month, at mid-month
        (0, "month", 250),  # no coupon: half the list price
    ],
)
async def test_unused_time_is_credited_at_what_was_paid_not_the_list_price(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    percent_off: int,
    interval: str,
    credit: int,
) -> None:
    code = f"OFF{percent_off}"
    if percent_off:
        await _offer(services, code, percent_off)
    _, account_id = await card_customer(services, gql, localstripe, f"paid{percent_off}")
    setup = billing_of(services)
    await subscribe_in_domain(
        services,
        account_id,
        JAN_1,
        interval=interval,
        promotion_code=code if percent_off else None,
    )
    subscription = await subscription_of(services, account_id)
    half = (
        subscription.current_period_start
        + (subscription.current_period_end - subscription.current_period_start) / 2
    )

    _, invoice = await subscriptions.change_plan(
        services.runtime.transactions,
        setup,
        account_id=account_id,
        plan_code="pro",
        interval=interval,
        now=half,
    )

    assert invoice is not None
    async with services.runtime.read_sessionmaker() as session:
        credited = await session.scalar(
            select(InvoiceLine.amount).where(
                InvoiceLine.invoice_id == invoice.id, InvoiceLine.kind == "proration_credit"
            )
        )
        customer = await session.get(BillingCustomer, account_id)
    assert credited == -credit
    assert customer is not None and customer.credit_balance == 0


async def test_a_first_payment_never_authenticated_is_canceled_when_it_expires(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    _, account_id = await card_customer(
        services, gql, localstripe, "sca_gone", card=THREE_D_SECURE_CARD
    )
    await subscribe_in_domain(services, account_id, now=JAN_1)

    await billing_sweep(services, JAN_1 + timedelta(hours=23, minutes=1))

    [payment] = await payments_of(services, account_id)
    assert (payment.status, payment.failure_code) == (FAILED, "expired")
    subscription = await subscription_of(services, account_id)
    assert subscription.status == "canceled"
    client = localstripe.client(services.runtime.settings)
    intent = await client.v1.payment_intents.retrieve_async(str(payment.stripe_payment_intent_id))
    assert intent.status == "canceled"


async def test_a_customer_keeps_the_currency_of_its_first_subscription(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(
        services, gql, localstripe, "euro", now=JAN_1, currency="EUR", country="DE"
    )
    async with services.runtime.sessionmaker() as session, session.begin():
        await subscriptions.set_cancel_at_period_end(session, account_id=account_id, cancel=True)
    await billing_sweep(services, FEB_1)
    assert (await subscription_of(services, account_id)).status == "canceled"

    later = FEB_1 + timedelta(days=1)
    with pytest.raises(errors.CurrencyMismatch) as refused:
        await subscribe_in_domain(services, account_id, later, currency="usd", country="DE")
    await subscribe_in_domain(services, account_id, later, currency="eur", country="DE")

    assert refused.value.code == "CURRENCY_MISMATCH" and refused.value.field == "currency"
    assert (await subscription_of(services, account_id)).status == ACTIVE


async def test_subscribing_to_another_plan_while_incomplete_replaces_it(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    _, account_id = await card_customer(
        services, gql, localstripe, "chooser", card=THREE_D_SECURE_CARD
    )
    await subscribe_in_domain(services, account_id)  # Plus, waiting for 3-D Secure
    [waiting] = await payments_of(services, account_id)
    await switch_card(services, localstripe, account_id, GOOD_CARD)

    await subscribe_in_domain(services, account_id, plan_code="pro")

    async with services.runtime.read_sessionmaker() as session:
        invoices = list(
            await session.scalars(
                select(Invoice).where(Invoice.account_id == account_id).order_by(Invoice.id)
            )
        )
        plan = await entitlements.current_plan(
            session, account_id=account_id, now=datetime.now(UTC)
        )
    assert [(i.status, i.total) for i in invoices] == [("void", 500), (PAID, 1500)]
    assert invoices[0].number is not None and invoices[1].number == invoices[0].number + 1
    assert plan == "pro"
    client = localstripe.client(services.runtime.settings)
    intent = await client.v1.payment_intents.retrieve_async(str(waiting.stripe_payment_intent_id))
    assert intent.status == "canceled"
