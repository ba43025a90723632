"""Every Stripe call carries an idempotency key stored before the call; when an answer is
lost (a timeout, a dropped connection), the retry sends the same key and the work is done
once. A real proxy in front of localstripe loses the answers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.runtime import Services
from models.billing import errors, subscriptions
from models.billing.ledger import PAID, Invoice, Payment
from models.billing.tables import ACTIVE, INCOMPLETE, StripeRequest
from tests.support.billing import card_customer, subscribe_in_domain
from tests.support.graphql import GraphQLClient
from tests.support.stripe import LocalStripe
from tests.support.stripe_proxy import (  # noqa: F401 - the `proxy` and `settings` fixtures
    RecordingProxy,
    proxied_settings,
    proxy_fixture,
)

INTENTS = ("POST", "/v1/payment_intents")
CONFIRM = ("POST", "/confirm")


async def test_a_lost_answer_to_creating_the_payment_is_retried_with_the_same_key(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, proxy: RecordingProxy
) -> None:
    _, account_id = await card_customer(services, gql, localstripe, "idem_create")
    proxy.lose_next.add(INTENTS)

    with pytest.raises(errors.PaymentProcessorUnavailable):
        await subscribe_in_domain(services, account_id)

    async with services.runtime.sessionmaker() as session:
        stored = list(await session.scalars(select(StripeRequest.key)))
        live = await subscriptions.live_subscription(session, account_id=account_id)
    first = proxy.keys(*INTENTS)
    assert len(first) == 1 and first[0] in stored
    assert live is not None and live.status == INCOMPLETE

    await subscribe_in_domain(services, account_id)

    assert proxy.keys(*INTENTS) == [first[0], first[0]]
    async with services.runtime.sessionmaker() as session:
        live = await subscriptions.live_subscription(session, account_id=account_id)
        payments = await session.scalar(select(func.count()).select_from(Payment))
        invoice = await session.scalar(select(Invoice))
    assert live is not None and live.status == ACTIVE
    assert payments == 1
    assert invoice is not None and invoice.status == PAID


async def test_a_lost_answer_to_confirming_charges_once(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, proxy: RecordingProxy
) -> None:
    _, account_id = await card_customer(services, gql, localstripe, "idem_confirm")
    proxy.lose_next.add(CONFIRM)

    with pytest.raises(errors.PaymentProcessorUnavailable):
        await subscribe_in_domain(services, account_id)
    await subscribe_in_domain(services, account_id)

    keys = proxy.keys(*CONFIRM)
    assert len(keys) == 2 and keys[0] == keys[1] is not None
    async with services.runtime.sessionmaker() as session:
        invoice = await session.scalar(select(Invoice))
        intent_id = await session.scalar(select(func.max(Payment.stripe_payment_intent_id)))
    assert invoice is not None and invoice.status == PAID
    assert invoice.amount_paid == invoice.amount_due
    client = localstripe.client(services.runtime.settings)
    intent = await client.v1.payment_intents.retrieve_async(str(intent_id))
    charges = await client.v1.charges.list_async(params={"customer": str(intent.customer)})
    assert [c.status for c in charges.data] == ["succeeded"]
