"""Dunning against a real localstripe and a real SMTP server: a renewal a card declines makes
the subscription past due (its plan kept during grace), retries follow BILLING_RETRY_DAYS
with one email per step, the account falls back to Free when grace runs out with every
invoice still open, and a working card pays them and restores the plan. Time moves by
passing `now`; the emails are sent by the app's own worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.mail import message_id
from app.runtime import Services
from app.settings import Settings
from models.billing import customers, dunning, errors, payments, subscriptions
from models.billing.ledger import (
    OPEN,
    PAID,
    SUBSCRIPTION_CYCLE,
    SUBSCRIPTION_UPDATE,
    UNCOLLECTIBLE,
    Invoice,
    Payment,
)
from models.billing.tables import ACTIVE, CANCELED, PAST_DUE, UNPAID
from models.mail.tables import OutboundEmail
from tests.conftest import eventually, make_settings
from tests.support.backends import Database
from tests.support.billing import (
    DECLINED_CARD,
    GOOD_CARD,
    billing_of,
    billing_sweep,
    invoices_of,
    new_card,
    plan_now,
    subscriber_at,
    subscription_of,
    switch_card,
)
from tests.support.graphql import GraphQLClient
from tests.support.smtp import SmtpServer, smtp_server_fixture  # noqa: F401
from tests.support.stripe import LocalStripe

JAN_31 = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
FEB_28 = datetime(2030, 2, 28, 12, 0, tzinfo=UTC)
MAR_31 = datetime(2030, 3, 31, 12, 0, tzinfo=UTC)


def day(n: int) -> datetime:
    """`n` days after the renewal that failed."""
    return FEB_28 + timedelta(days=n)


@pytest.fixture
def settings(database: Database, localstripe: LocalStripe, smtp_server: SmtpServer) -> Settings:
    return make_settings(
        database,
        stripe_api_base=localstripe.api_base,
        billing_sweep_interval=3600.0,
        billing_retry_days=(1, 3, 5),
        billing_grace_days=7,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
    )


async def _declining_subscriber(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, handle: str = "ada"
) -> int:
    """A Plus subscriber since Jan 31 whose card now declines every charge."""
    account_id = await subscriber_at(services, gql, localstripe, handle, now=JAN_31)
    await switch_card(services, localstripe, account_id, DECLINED_CARD)
    return account_id


async def _emails(services: Services) -> list[OutboundEmail]:
    async with services.runtime.read_sessionmaker() as session:
        rows = await session.scalars(
            select(OutboundEmail)
            .where(OutboundEmail.key.like("dunning:%"))
            .order_by(OutboundEmail.id)
        )
        return list(rows)


async def _steps(services: Services) -> list[str]:
    return [email.key.rsplit(":", 2)[-1] for email in await _emails(services)]


async def test_a_declined_renewal_is_retried_falls_back_to_free_and_a_new_card_restores_it(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    smtp_server: SmtpServer,
    settings: Settings,
) -> None:
    account_id = await _declining_subscriber(services, gql, localstripe)

    await billing_sweep(services, FEB_28)

    subscription = await subscription_of(services, account_id)
    assert subscription.status == PAST_DUE
    assert (subscription.past_due_since, subscription.next_retry_at) == (FEB_28, day(1))
    assert subscription.grace_ends_at == day(7)
    assert await plan_now(services, account_id, day(6)) == "plus"
    renewal = (await invoices_of(services, account_id))[-1]
    assert (renewal.reason, renewal.status) == (SUBSCRIPTION_CYCLE, OPEN)

    reports = [await billing_sweep(services, when) for when in (day(1), day(2), day(3), day(5))]

    assert [r.dunning for r in reports] == [1, 0, 1, 1]
    subscription = await subscription_of(services, account_id)
    assert (subscription.status, subscription.retry_step, subscription.next_retry_at) == (
        PAST_DUE,
        3,
        None,
    )
    assert await plan_now(services, account_id, day(6)) == "plus"

    assert (await billing_sweep(services, day(7))).dunning == 1

    subscription = await subscription_of(services, account_id)
    assert subscription.status == UNPAID
    assert await plan_now(services, account_id, day(7)) == "free"
    assert [i.status for i in await invoices_of(services, account_id)] == [PAID, OPEN]

    card = await new_card(services, localstripe, GOOD_CARD)
    await dunning.update_payment_method_and_settle(
        services.runtime.transactions,
        billing_of(services),
        account_id=account_id,
        stripe_payment_method_id=card,
        now=day(8),
    )

    subscription = await subscription_of(services, account_id)
    assert (subscription.status, subscription.past_due_since) == (ACTIVE, None)
    assert await plan_now(services, account_id, day(8)) == "plus"
    assert [i.status for i in await invoices_of(services, account_id)] == [PAID, PAID]
    assert await _steps(services) == ["0", "1", "2", "3", "unpaid", "restored"]

    services.runtime.dispatcher.kick()

    async def all_sent() -> bool:
        return len(smtp_server.received) == 6

    await eventually(all_sent)
    subjects = [r.message["Subject"] for r in smtp_server.received]
    assert sorted(subjects) == sorted(
        [
            "Your Chirp Plus payment failed",
            "Your card was declined again",
            "Your card was declined again",
            "Your card was declined again",
            "Your account has moved from Chirp Plus to Free",
            "Your Chirp Plus plan is active again",
        ]
    )
    first = (await _emails(services))[0]
    [received] = smtp_server.with_message_id(message_id(first.key, settings.mail_from))
    body = received.message.get_content()
    assert received.rcpt_tos == ["ada@example.com"]
    assert "$5.00" in body and "1 March 2030" in body and "7 March 2030" in body
    assert "Settings → Billing" in body


async def test_each_step_emails_once_however_often_the_sweep_runs(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await _declining_subscriber(services, gql, localstripe)
    await billing_sweep(services, FEB_28)

    retries = await asyncio.gather(*(billing_sweep(services, day(1)) for _ in range(3)))
    await billing_sweep(services, day(1) + timedelta(hours=1))

    assert sum(r.dunning for r in retries) == 1
    assert await _steps(services) == ["0", "1"]
    async with services.runtime.read_sessionmaker() as session:
        attempts = await session.scalar(
            select(func.count()).select_from(Payment).where(Payment.account_id == account_id)
        )
    # The first invoice, the renewal, and one retry of it.
    assert attempts == 3


async def test_missed_retries_are_skipped_not_made_all_at_once(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await _declining_subscriber(services, gql, localstripe)
    await billing_sweep(services, FEB_28)

    # No sweeper ran for four days: one retry now (the third of the schedule's), not three.
    report = await billing_sweep(services, day(4))

    assert report.dunning == 1
    subscription = await subscription_of(services, account_id)
    assert (subscription.retry_step, subscription.next_retry_at) == (2, day(5))
    assert await _steps(services) == ["0", "2"]


async def test_an_unpaid_subscription_ends_at_its_period_end_and_nothing_collects_it_after(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await _declining_subscriber(services, gql, localstripe)
    for when in (FEB_28, day(1), day(3), day(5), day(7)):
        await billing_sweep(services, when)
    # Unpaid subscriptions are not renewed: at the period's end (Mar 31) the sweep ends it
    # and writes its open invoice off (issue 12: unpaid was a dead end).
    report = await billing_sweep(services, MAR_31)

    assert (report.renewed, report.dunning) == (0, 1)
    subscription = await subscription_of(services, account_id)
    assert (subscription.status, subscription.cancel_reason) == (CANCELED, "unpaid")
    assert [i.status for i in await invoices_of(services, account_id)] == [PAID, UNCOLLECTIBLE]

    await switch_card(services, localstripe, account_id, GOOD_CARD)
    paid = await payments.pay_open_invoices(
        services.runtime.transactions,
        billing_of(services),
        account_id=account_id,
        now=datetime(2030, 4, 10, 9, 0, tzinfo=UTC),
    )

    assert paid == []
    assert await plan_now(services, account_id, datetime(2030, 4, 10, tzinfo=UTC)) == "free"


async def test_a_renewal_without_any_card_starts_dunning(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31)
    async with services.runtime.sessionmaker() as session, session.begin():
        customer = await customers.lock_customer(session, account_id=account_id)
        assert customer.default_payment_method_id is not None
        await customers.remove_payment_method(
            session, account_id=account_id, payment_method_id=customer.default_payment_method_id
        )

    await billing_sweep(services, FEB_28)

    subscription = await subscription_of(services, account_id)
    assert (subscription.status, subscription.next_retry_at) == (PAST_DUE, day(1))
    assert await _steps(services) == ["0"]


async def test_an_upgrade_invoice_left_without_a_card_starts_dunning_from_the_sweep(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account_id = await subscriber_at(services, gql, localstripe, "ada", now=JAN_31)
    gateway = billing_of(services).gateway

    async def times_out(**kwargs: Any) -> str:
        raise errors.PaymentProcessorUnavailable("Stripe did not answer.")

    monkeypatch.setattr(gateway, "create_intent", times_out)
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
    monkeypatch.undo()
    async with services.runtime.sessionmaker() as session, session.begin():
        customer = await customers.lock_customer(session, account_id=account_id)
        assert customer.default_payment_method_id is not None
        await customers.remove_payment_method(
            session, account_id=account_id, payment_method_id=customer.default_payment_method_id
        )
    swept_at = upgraded_at + timedelta(minutes=11)

    report = await billing_sweep(services, swept_at)

    assert (report.collected, report.failed) == (1, 0)
    subscription = await subscription_of(services, account_id)
    assert (subscription.status, subscription.past_due_since) == (PAST_DUE, swept_at)
    upgrade = (await invoices_of(services, account_id))[-1]
    assert (upgrade.reason, upgrade.status) == (SUBSCRIPTION_UPDATE, OPEN)
    assert await _steps(services) == ["0"]


async def test_grace_over_with_nothing_left_open_restores_rather_than_goes_unpaid(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    account_id = await _declining_subscriber(services, gql, localstripe)
    for when in (FEB_28, day(1), day(3), day(5)):
        await billing_sweep(services, when)
    renewal = (await invoices_of(services, account_id))[-1]
    # Closed behind dunning's back (as a payment settled by a late webhook would be).
    async with services.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(Invoice).where(Invoice.id == renewal.id).values(status=PAID))

    report = await billing_sweep(services, day(7))

    assert report.dunning == 1
    subscription = await subscription_of(services, account_id)
    assert (subscription.status, subscription.past_due_since) == (ACTIVE, None)
    assert await plan_now(services, account_id, day(7)) == "plus"
    assert "unpaid" not in await _steps(services)
