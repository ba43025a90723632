"""Disputes through POST /webhooks/stripe: freezing the paid plan, telling billing staff once,
and what winning or losing does, whatever order Stripe's events arrive in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.runtime import Services
from app.settings import Settings
from models.audit.tables import AuditEntry
from models.base import utcnow
from models.billing import entitlements
from models.billing.ledger import CreditNote, Dispute, Invoice
from models.billing.tables import Subscription
from models.mail.tables import OutboundEmail
from tests.conftest import make_settings
from tests.support.accounts import sign_up
from tests.support.backends import Database
from tests.support.billing import (
    WEBHOOK_SECRET,
    Subscriber,
    account_id_of,
    dispute_object,
    paid_subscriber,
    post_event,
    refund_in_stripe,
)
from tests.support.graphql import GraphQLClient
from tests.support.staff import grant
from tests.support.stripe import LocalStripe, stripe_event

pytestmark = pytest.mark.processes


@pytest.fixture
def freeze() -> bool:
    return True


@pytest.fixture
def settings(database: Database, localstripe: LocalStripe, freeze: bool) -> Settings:
    return make_settings(
        database,
        stripe_api_base=localstripe.api_base,
        stripe_webhook_secret=WEBHOOK_SECRET,
        billing_freeze_on_dispute=freeze,
    )


async def _charge(services: Services, localstripe: LocalStripe, sub: Subscriber) -> dict[str, Any]:
    assert sub.intent_id is not None
    client = localstripe.client(services.runtime.settings)
    intent = await client.v1.payment_intents.retrieve_async(sub.intent_id)
    charge: dict[str, Any] = intent.to_dict()["latest_charge"]
    return charge


async def _send(http: httpx.AsyncClient, kind: str, dispute: dict[str, Any]) -> None:
    response = await post_event(http, stripe_event(f"charge.dispute.{kind}", dispute))
    assert response.status_code == 200, response.text


async def _subscription(services: Services, account_id: int) -> Subscription:
    async with services.runtime.sessionmaker() as session:
        found = await session.scalar(
            select(Subscription)
            .where(Subscription.account_id == account_id)
            .order_by(Subscription.id.desc())
        )
    assert found is not None
    return found


async def _plan(services: Services, account_id: int) -> str:
    async with services.runtime.sessionmaker() as session:
        return await entitlements.current_plan(session, account_id=account_id, now=utcnow())


async def _emails(services: Services, dispute_id: str) -> list[tuple[str, str]]:
    async with services.runtime.sessionmaker() as session:
        rows = await session.execute(
            select(OutboundEmail.key, OutboundEmail.to_address)
            .where(OutboundEmail.key.startswith(f"dispute:{dispute_id}:"))
            .order_by(OutboundEmail.key)
        )
    return [(key, to) for key, to in rows]


async def _audit(services: Services, dispute_id: str) -> list[str]:
    async with services.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target_type == "dispute", AuditEntry.target_id == dispute_id)
            .order_by(AuditEntry.id)
        )
    return list(rows)


async def test_an_open_dispute_freezes_the_plan_and_tells_each_billing_admin_once(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    for handle, role in (("bea", "BILLING_ADMIN"), ("bob", "BILLING_ADMIN"), ("moe", "MODERATOR")):
        await sign_up(gql, handle)
        await grant(services, handle, role)
    bea, bob = await account_id_of(services, "bea"), await account_id_of(services, "bob")
    sub = await paid_subscriber(services, gql, localstripe, "dora")
    charge = await _charge(services, localstripe, sub)
    assert await _plan(services, sub.account_id) == "plus"

    await _send(http, "created", dispute_object(charge, "dp_open", "needs_response"))
    await _send(http, "updated", dispute_object(charge, "dp_open", "under_review"))

    assert (await _subscription(services, sub.account_id)).frozen is True
    assert await _plan(services, sub.account_id) == "free"
    assert await _emails(services, "dp_open") == sorted(
        [
            (f"dispute:dp_open:opened:{bea}", "bea@example.com"),
            (f"dispute:dp_open:opened:{bob}", "bob@example.com"),
        ]
    )
    assert await _audit(services, "dp_open") == ["billing.dispute_open"]
    async with services.runtime.sessionmaker() as session:
        dispute = await session.scalar(select(Dispute))
    assert dispute is not None
    assert (dispute.status, dispute.outcome, dispute.account_id, dispute.amount) == (
        "under_review",
        None,
        sub.account_id,
        charge["amount"],
    )


@pytest.mark.parametrize("freeze", [False])
async def test_without_freeze_on_dispute_the_plan_stays(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    sub = await paid_subscriber(services, gql, localstripe, "fred")
    charge = await _charge(services, localstripe, sub)

    await _send(http, "created", dispute_object(charge, "dp_nofreeze", "needs_response"))

    assert (await _subscription(services, sub.account_id)).frozen is False
    assert await _plan(services, sub.account_id) == "plus"
    assert await _audit(services, "dp_nofreeze") == ["billing.dispute_open"]


async def test_a_won_dispute_unfreezes_the_plan(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    sub = await paid_subscriber(services, gql, localstripe, "wendy")
    charge = await _charge(services, localstripe, sub)
    await _send(http, "created", dispute_object(charge, "dp_won", "needs_response"))

    await _send(http, "closed", dispute_object(charge, "dp_won", "won"))

    subscription = await _subscription(services, sub.account_id)
    assert (subscription.status, subscription.frozen) == ("active", False)
    assert await _plan(services, sub.account_id) == "plus"
    assert await _audit(services, "dp_won") == ["billing.dispute_open", "billing.dispute_won"]
    async with services.runtime.sessionmaker() as session:
        invoice = await session.get(Invoice, sub.invoice_id)
    assert invoice is not None and invoice.amount_refunded == 0


async def test_winning_one_of_two_open_disputes_keeps_the_plan_frozen(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    sub = await paid_subscriber(services, gql, localstripe, "tess")
    charge = await _charge(services, localstripe, sub)
    await _send(http, "created", dispute_object(charge, "dp_one", "needs_response", amount=100))
    await _send(http, "created", dispute_object(charge, "dp_two", "needs_response", amount=200))

    await _send(http, "closed", dispute_object(charge, "dp_one", "won", amount=100))

    assert (await _subscription(services, sub.account_id)).frozen is True
    await _send(http, "closed", dispute_object(charge, "dp_two", "won", amount=200))
    assert (await _subscription(services, sub.account_id)).frozen is False


async def test_a_lost_dispute_cancels_to_free_and_counts_the_amount_as_refunded(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    await sign_up(gql, "bea")
    await grant(services, "bea", "BILLING_ADMIN")
    bea = await account_id_of(services, "bea")
    sub = await paid_subscriber(services, gql, localstripe, "luke")
    charge = await _charge(services, localstripe, sub)
    await _send(http, "created", dispute_object(charge, "dp_lost", "needs_response"))

    await _send(http, "closed", dispute_object(charge, "dp_lost", "lost"))

    subscription = await _subscription(services, sub.account_id)
    assert (subscription.status, subscription.cancel_reason, subscription.frozen) == (
        "canceled",
        "dispute_lost",
        False,
    )
    assert await _plan(services, sub.account_id) == "free"
    async with services.runtime.sessionmaker() as session:
        invoice = await session.get(Invoice, sub.invoice_id)
    assert invoice is not None and invoice.amount_refunded == invoice.amount_paid
    assert await _audit(services, "dp_lost") == ["billing.dispute_open", "billing.dispute_lost"]
    assert [key for key, _ in await _emails(services, "dp_lost")] == [
        f"dispute:dp_lost:closed:{bea}",
        f"dispute:dp_lost:opened:{bea}",
    ]


async def test_a_closed_event_before_the_created_one_gives_the_same_end(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    await sign_up(gql, "bea")
    await grant(services, "bea", "BILLING_ADMIN")
    sub = await paid_subscriber(services, gql, localstripe, "olga")
    charge = await _charge(services, localstripe, sub)

    await _send(http, "closed", dispute_object(charge, "dp_late", "lost"))
    await _send(http, "updated", dispute_object(charge, "dp_late", "under_review"))
    await _send(http, "created", dispute_object(charge, "dp_late", "needs_response"))

    subscription = await _subscription(services, sub.account_id)
    assert (subscription.status, subscription.frozen) == ("canceled", False)
    async with services.runtime.sessionmaker() as session:
        dispute = await session.scalar(select(Dispute))
    assert dispute is not None and (dispute.status, dispute.outcome) == ("lost", "lost")
    assert await _audit(services, "dp_late") == ["billing.dispute_open", "billing.dispute_lost"]
    assert len(await _emails(services, "dp_late")) == 2


async def test_a_dispute_of_a_charge_chirp_does_not_know_is_recorded_and_reported(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    await sign_up(gql, "bea")
    await grant(services, "bea", "BILLING_ADMIN")
    charge = {"id": "ch_elsewhere", "amount": 900, "currency": "eur", "payment_intent": None}

    await _send(http, "created", dispute_object(charge, "dp_stranger", "needs_response"))

    async with services.runtime.sessionmaker() as session:
        dispute = await session.scalar(select(Dispute))
    assert dispute is not None
    assert (dispute.account_id, dispute.payment_id, dispute.currency) == (None, None, "EUR")
    assert len(await _emails(services, "dp_stranger")) == 1


async def test_a_refund_recorded_after_a_lost_dispute_never_shows_more_refunded_than_paid(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    sub = await paid_subscriber(services, gql, localstripe, "ruth")
    assert sub.intent_id is not None
    charge = await refund_in_stripe(services, localstripe, sub.intent_id, 200)
    await _send(http, "closed", dispute_object(charge, "dp_first", "lost"))

    response = await post_event(http, stripe_event("charge.refunded", charge))

    assert response.status_code == 200, response.text
    async with services.runtime.sessionmaker() as session:
        invoice = await session.get(Invoice, sub.invoice_id)
        notes = list(await session.scalars(select(CreditNote.amount)))
    assert invoice is not None and invoice.amount_refunded == invoice.amount_paid
    assert notes == [200]
