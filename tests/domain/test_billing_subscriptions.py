"""Subscribing through the billing engine on the in-memory payment gateway: the first
invoice's arithmetic, a declined charge and its recovery, and the input rules. (Stripe's own
behaviour is tested against localstripe in tests/api and tests/integration.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.billing import entitlements, errors, payments, subscriptions
from models.billing.ledger import OPEN, PAID, SUBSCRIPTION_CREATE
from models.billing.setup import BillingSetup
from models.billing.tables import ACTIVE, INCOMPLETE
from models.errors import DomainError
from models.transactions import Transactions
from tests.support.domain_billing import add_card, customer, latest_invoice, subscribe
from tests.support.memory_gateway import DECLINED_ON_CHARGE, GOOD_CARD, InMemoryPaymentGateway

Sessions = async_sessionmaker[AsyncSession]


async def test_subscribing_issues_and_charges_the_first_invoice(
    db_sessionmaker: Sessions, billing_setup: BillingSetup, payment_gateway: InMemoryPaymentGateway
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")

    subscription = await subscribe(db_sessionmaker, billing_setup, ada, "pro", country="DE")

    async with db_sessionmaker() as session:
        invoice = await latest_invoice(session, ada)
        now = invoice.created_at
        plan = await entitlements.current_plan(session, account_id=ada, now=now)
        allowed = await entitlements.current_entitlements(session, account_id=ada)
    assert subscription.status == ACTIVE
    assert (invoice.status, invoice.number, invoice.reason) == (PAID, 1, SUBSCRIPTION_CREATE)
    assert invoice.subtotal == 1500
    assert (invoice.tax_rate_bp, invoice.tax_total) == (1900, 285)
    assert invoice.total == invoice.amount_paid == 1785
    assert invoice.currency == "USD"
    assert plan == "pro" and allowed.max_post_length == 4000
    [intent] = payment_gateway.intents.values()
    assert (intent.amount, intent.currency, intent.status) == (1785, "usd", "succeeded")


async def test_a_declined_charge_leaves_it_incomplete_and_a_new_card_completes_it(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada", DECLINED_ON_CHARGE)

    with pytest.raises(errors.PaymentFailed) as declined:
        await subscribe(db_sessionmaker, billing_setup, ada)
    async with db_sessionmaker() as session:
        incomplete = await subscriptions.live_subscription(session, account_id=ada)
        invoice = await latest_invoice(session, ada)
        plan = await entitlements.current_plan(session, account_id=ada, now=invoice.created_at)
    assert declined.value.code == "PAYMENT_FAILED"
    assert incomplete is not None and incomplete.status == INCOMPLETE
    assert invoice.status == OPEN
    assert plan == "free"

    await add_card(db_sessionmaker, billing_setup, ada, GOOD_CARD)
    await payments.pay_open_invoices(Transactions(db_sessionmaker), billing_setup, account_id=ada)

    async with db_sessionmaker() as session:
        restored = await subscriptions.live_subscription(session, account_id=ada)
        invoice = await latest_invoice(session, ada)
        plan = await entitlements.current_plan(session, account_id=ada, now=invoice.created_at)
    assert restored is not None and restored.status == ACTIVE
    assert invoice.status == PAID
    assert plan == "plus"


@pytest.mark.parametrize(
    ("extra", "code", "field"),
    [
        ({"plan_code": "gold"}, "UNKNOWN_PLAN", "planCode"),
        ({"plan_code": "free"}, "UNKNOWN_PLAN", "planCode"),
        ({"currency": "XXX"}, "UNSUPPORTED_CURRENCY", "currency"),
        ({"country": "Germany"}, "INVALID_COUNTRY", "country"),
        ({"country": "ZZ"}, "INVALID_COUNTRY", "country"),
        ({"promotion_code": "NOPE"}, "UNKNOWN_COUPON", "promotionCode"),
        ({"promotion_code": "bad code!"}, "UNKNOWN_COUPON", "promotionCode"),
    ],
)
async def test_bad_subscribe_input_is_refused(
    db_sessionmaker: Sessions,
    billing_setup: BillingSetup,
    extra: dict[str, Any],
    code: str,
    field: str,
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")

    with pytest.raises(DomainError) as refused:
        await subscribe(db_sessionmaker, billing_setup, ada, **extra)

    assert (refused.value.code, refused.value.field) == (code, field)


async def test_subscribing_twice_is_refused(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(db_sessionmaker, billing_setup, ada)

    with pytest.raises(errors.AlreadySubscribed) as again:
        await subscribe(db_sessionmaker, billing_setup, ada, "pro")

    assert again.value.code == "ALREADY_SUBSCRIBED"
