"""Arranging billing through the domain and a real localstripe: customers with a card, and
subscribers whose first invoice is paid (or left open by a declined card).

Several engineers add helpers here: append, do not rewrite."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.runtime import Services
from app.settings import Settings
from models.accounts.tables import Account
from models.audit.actions import Actor
from models.billing import customers, entitlements, errors, subscriptions
from models.billing.ledger import Invoice, InvoiceLine, Payment
from models.billing.setup import BillingSetup
from models.billing.specs import SubscriptionSpec
from models.billing.sweep import BillingSweep, BillingSweepReport
from models.billing.tables import BillingCustomer, Subscription
from tests.conftest import make_settings
from tests.support.accounts import User, sign_up
from tests.support.backends import Database
from tests.support.graphql import GraphQLClient
from tests.support.stripe import LocalStripe, sign_event


@pytest.fixture(name="settings")
def localstripe_settings(database: Database, localstripe: LocalStripe) -> Settings:
    """The test settings with Stripe at the session's localstripe; a module takes it as its
    `settings` by importing it."""
    return make_settings(database, stripe_api_base=localstripe.api_base)


GOOD_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
# Attaches, then every charge is declined: the first invoice stays open.
DECLINED_CARD = {"number": "4000000000000341", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def billing_of(services: Services) -> BillingSetup:
    billing = services.runtime.billing
    assert billing is not None
    return billing


async def account_id_of(services: Services, handle: str) -> int:
    async with services.runtime.sessionmaker() as session:
        account_id = await session.scalar(select(Account.id).where(Account.handle == handle))
    assert account_id is not None
    return account_id


async def actor_for(services: Services, user: User, *roles: str) -> Actor:
    """`user` as the audit log records a staff member acting in the domain."""
    return Actor(
        account_id=await account_id_of(services, user.handle), handle=user.handle, roles=roles
    )


@dataclass(frozen=True)
class Subscriber:
    user: User
    account_id: int
    invoice_id: int
    # The PaymentIntent that paid the first invoice (None when it was declined).
    intent_id: str | None
    amount_paid: int
    currency: str


async def card_customer(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    handle: str,
    *,
    card: dict[str, Any] = GOOD_CARD,
) -> tuple[User, int]:
    """A signed-up account whose default payment method is `card` (made in localstripe)."""
    user = await sign_up(gql, handle)
    account_id = await account_id_of(services, handle)
    client = localstripe.client(services.runtime.settings)
    params: Any = {"type": "card", "card": card}
    method = await client.v1.payment_methods.create_async(params=params)
    await customers.add_payment_method(
        services.runtime.transactions,
        billing_of(services).gateway,
        account_id=account_id,
        stripe_payment_method_id=method.id,
        make_default=True,
    )
    return user, account_id


async def paid_subscriber(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    handle: str,
    *,
    plan_code: str = "plus",
    interval: str = "month",
    currency: str = "USD",
    country: str | None = "US",
    card: dict[str, Any] = GOOD_CARD,
    credit_balance: int = 0,
) -> Subscriber:
    """A subscriber whose first invoice is issued and paid through localstripe; with a
    declined `card`, the invoice stays open (and `intent_id` is None). A `credit_balance`
    (as a plan change leaves one) pays the first invoice first."""
    user, account_id = await card_customer(services, gql, localstripe, handle, card=card)
    if credit_balance:
        async with services.runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(BillingCustomer)
                .where(BillingCustomer.account_id == account_id)
                .values(credit_balance=credit_balance)
            )
    try:
        await subscribe_in_domain(
            services,
            account_id,
            plan_code=plan_code,
            interval=interval,
            currency=currency,
            country=country,
        )
    except errors.PaymentFailed:
        if card is GOOD_CARD:
            raise
    async with services.runtime.sessionmaker() as session:
        invoice = await session.scalar(
            select(Invoice).where(Invoice.account_id == account_id).order_by(Invoice.id)
        )
        assert invoice is not None
        intent_id = await session.scalar(
            select(Payment.stripe_payment_intent_id).where(
                Payment.invoice_id == invoice.id, Payment.status == "succeeded"
            )
        )
    return Subscriber(
        user, account_id, invoice.id, intent_id, invoice.amount_paid, invoice.currency
    )


# --- Stripe webhooks, disputes and reconciliation -------------------------------------------

WEBHOOK_SECRET = "whsec_test_chirp_webhooks"
WEBHOOK_PATH = "/webhooks/stripe"
# Asks for 3-D Secure, so Chirp's own confirm leaves the payment pending; localstripe's
# `_authenticate` then completes it (success) or fails it, as a customer in a browser would.
THREE_D_SECURE_CARD = {
    "number": "4000000000003220",
    "exp_month": 12,
    "exp_year": 2030,
    "cvc": "123",
}


async def pending_subscriber(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, handle: str
) -> tuple[int, str]:
    """A subscriber whose first payment waits for 3-D Secure: (account id, intent id)."""
    _, account_id = await card_customer(
        services, gql, localstripe, handle, card=THREE_D_SECURE_CARD
    )
    await subscribe_in_domain(services, account_id)
    async with services.runtime.sessionmaker() as session:
        payment = await session.scalar(select(Payment).where(Payment.account_id == account_id))
    assert payment is not None and payment.status == "pending", payment
    assert payment.stripe_payment_intent_id is not None
    return account_id, payment.stripe_payment_intent_id


async def authenticate(
    services: Services, localstripe: LocalStripe, intent_id: str, *, success: bool
) -> dict[str, Any]:
    """Finish 3-D Secure in localstripe, behind Chirp's back; the intent as Stripe has it."""
    client = localstripe.client(services.runtime.settings)
    intent = await client.v1.payment_intents.retrieve_async(intent_id)
    async with httpx.AsyncClient(base_url=localstripe.api_base, timeout=5.0) as http:
        response = await http.post(
            f"/v1/payment_intents/{intent_id}/_authenticate",
            data={"client_secret": intent.client_secret, "success": str(success).lower()},
            headers={"authorization": f"Bearer {services.runtime.settings.stripe_api_key}"},
        )
    assert response.status_code == 200, response.text
    return (await client.v1.payment_intents.retrieve_async(intent_id)).to_dict()


async def refund_in_stripe(
    services: Services, localstripe: LocalStripe, intent_id: str, amount: int
) -> dict[str, Any]:
    """A refund made in Stripe's dashboard (not through Chirp); the charge as Stripe has it."""
    client = localstripe.client(services.runtime.settings)
    params: Any = {"payment_intent": intent_id, "amount": amount}
    refund = await client.v1.refunds.create_async(params=params)
    return (await client.v1.charges.retrieve_async(str(refund.charge))).to_dict()


def dispute_object(
    charge: dict[str, Any], dispute_id: str, status: str, *, amount: int | None = None
) -> dict[str, Any]:
    """A Stripe dispute of `charge` (localstripe cannot make disputes)."""
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": charge["amount"] if amount is None else amount,
        "charge": charge["id"],
        "payment_intent": charge.get("payment_intent"),
        "currency": charge["currency"],
        "reason": "fraudulent",
        "status": status,
        "created": 1_700_000_000,
        "livemode": False,
    }


async def post_event(
    http: httpx.AsyncClient,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    """POST a Stripe event to Chirp, signed as Stripe signs it."""
    body, header = sign_event(event, secret, timestamp=timestamp)
    return await http.post(
        WEBHOOK_PATH,
        content=body,
        headers={"stripe-signature": header, "content-type": "application/json"},
    )


# --- Renewals, metered usage and dunning ----------------------------------------------------


async def subscriber_at(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    handle: str,
    *,
    now: datetime,
    plan_code: str = "plus",
    interval: str = "month",
    currency: str = "USD",
    country: str | None = "US",
    card: dict[str, Any] = GOOD_CARD,
) -> int:
    """The account id of a subscriber who subscribed at `now` (its billing anchor); with a
    declined `card` the subscription stays incomplete."""
    _, account_id = await card_customer(services, gql, localstripe, handle, card=card)
    try:
        await subscribe_in_domain(
            services,
            account_id,
            now,
            plan_code=plan_code,
            interval=interval,
            currency=currency,
            country=country,
        )
    except errors.PaymentFailed:
        if card is GOOD_CARD:
            raise
    return account_id


async def new_card(services: Services, localstripe: LocalStripe, card: dict[str, Any]) -> str:
    """A payment method made in localstripe, as Stripe.js would make it: its pm_ id."""
    client = localstripe.client(services.runtime.settings)
    params: Any = {"type": "card", "card": card}
    method = await client.v1.payment_methods.create_async(params=params)
    return str(method.id)


async def switch_card(
    services: Services, localstripe: LocalStripe, account_id: int, card: dict[str, Any]
) -> None:
    """Make `card` the account's default payment method (no invoice is paid by this)."""
    await customers.add_payment_method(
        services.runtime.transactions,
        billing_of(services).gateway,
        account_id=account_id,
        stripe_payment_method_id=await new_card(services, localstripe, card),
        make_default=True,
    )


async def billing_sweep(services: Services, now: datetime) -> BillingSweepReport:
    """One billing sweep at `now`, as every server runs it on its timer."""
    runtime = services.runtime
    sweep = BillingSweep(runtime.transactions, runtime.read_sessionmaker, billing_of(services))
    return await sweep.sweep(now=now)


async def subscription_of(services: Services, account_id: int) -> Subscription:
    async with services.runtime.read_sessionmaker() as session:
        found = await session.scalar(
            select(Subscription)
            .where(Subscription.account_id == account_id)
            .order_by(Subscription.id.desc())
        )
    assert found is not None
    return found


async def invoices_of(services: Services, account_id: int) -> list[Invoice]:
    async with services.runtime.read_sessionmaker() as session:
        rows = await session.scalars(
            select(Invoice).where(Invoice.account_id == account_id).order_by(Invoice.id)
        )
        return list(rows)


async def lines_of(services: Services, invoice_id: int) -> list[tuple[str, int, int]]:
    """(kind, quantity, amount) of each line of an invoice, in order."""
    async with services.runtime.read_sessionmaker() as session:
        rows = await session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.id)
        )
        return [(line.kind, line.quantity, line.amount) for line in rows]


async def plan_now(services: Services, account_id: int, now: datetime) -> str:
    """The plan whose entitlements apply to the account at `now`."""
    async with services.runtime.read_sessionmaker() as session:
        return await entitlements.current_plan(session, account_id=account_id, now=now)


async def subscribe_in_domain(
    services: Services,
    account_id: int,
    now: datetime | None = None,
    *,
    plan_code: str = "plus",
    interval: str = "month",
    currency: str = "USD",
    country: str | None = "US",
    promotion_code: str | None = None,
) -> None:
    """Subscribe through the domain (Plus, monthly, USD, US unless told otherwise)."""
    await subscriptions.subscribe(
        services.runtime.transactions,
        billing_of(services),
        account_id=account_id,
        spec=SubscriptionSpec(plan_code, interval, currency, country, promotion_code),
        now=now,
    )
