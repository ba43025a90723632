"""Closing an open invoice without payment: void (the credit it used comes back) or
uncollectible; both keep the number, both are audited, and no other state change is allowed.
Closing a dunned subscription's last open invoice ends its dunning: restored, or (unpaid and
written off) canceled to Free."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.runtime import Services
from models.access.errors import ReasonRequired
from models.audit.actions import Actor
from models.billing import errors, subscriptions
from models.billing.invoice_states import WRITTEN_OFF, mark_uncollectible, void_invoice
from models.billing.ledger import OPEN, UNCOLLECTIBLE, VOID, Invoice
from models.billing.specs import SubscriptionSpec
from models.billing.tables import ACTIVE, CANCELED, PAST_DUE, UNPAID, BillingCustomer
from models.errors import NotFound
from tests.support.audit import audit_entries
from tests.support.billing import (
    DECLINED_CARD,
    GOOD_CARD,
    Subscriber,
    actor_for,
    billing_of,
    billing_sweep,
    invoices_of,
    localstripe_settings,  # noqa: F401 - `settings`
    paid_subscriber,
    plan_now,
    subscriber_at,
    subscription_of,
    switch_card,
)
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff
from tests.support.stripe import LocalStripe

REASON = "issued by mistake"


@pytest.fixture
async def admin(gql: GraphQLClient, services: Services) -> Actor:
    staff = await make_staff(gql, services, "closer", "BILLING_ADMIN")
    return await actor_for(services, staff, "BILLING_ADMIN")


async def unpaid(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, handle: str, credit: int = 0
) -> Subscriber:
    return await paid_subscriber(
        services, gql, localstripe, handle, card=DECLINED_CARD, credit_balance=credit
    )


async def test_voiding_keeps_the_number_and_gives_the_credit_back(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    who = await unpaid(services, gql, localstripe, "voided", credit=200)

    async with services.runtime.sessionmaker() as session, session.begin():
        before = await session.get(BillingCustomer, who.account_id)
        assert before is not None and before.credit_balance == 0
        voided = await void_invoice(session, actor=admin, invoice_id=who.invoice_id, reason=REASON)
        number = voided.number

    async with services.runtime.sessionmaker() as session:
        invoice = await session.get(Invoice, who.invoice_id)
        customer = await session.get(BillingCustomer, who.account_id)
    assert invoice is not None and customer is not None
    assert (invoice.status, invoice.number, invoice.credit_applied) == (VOID, number, 200)
    assert number is not None and invoice.voided_at is not None
    assert customer.credit_balance == 200
    [entry] = await audit_entries(services, "billing.invoice.void")
    assert (entry.target_id, entry.reason, entry.actor_id) == (
        str(who.invoice_id),
        REASON,
        admin.account_id,
    )
    assert entry.before == {"status": OPEN, "number": number}
    assert entry.after == {"status": VOID, "number": number}


async def test_an_open_invoice_can_be_marked_uncollectible_and_then_not_voided(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    who = await unpaid(services, gql, localstripe, "gave_up")

    async with services.runtime.sessionmaker() as session, session.begin():
        marked = await mark_uncollectible(
            session, actor=admin, invoice_id=who.invoice_id, reason="customer vanished"
        )
        assert marked.status == UNCOLLECTIBLE
    with pytest.raises(errors.InvalidInvoiceState) as raised:
        async with services.runtime.sessionmaker() as session, session.begin():
            await void_invoice(session, actor=admin, invoice_id=who.invoice_id, reason=REASON)

    assert raised.value.code == "INVALID_INVOICE_STATE"
    assert len(await audit_entries(services, "billing.invoice.mark_uncollectible")) == 1
    assert await audit_entries(services, "billing.invoice.void") == []


async def test_a_paid_invoice_is_refunded_not_voided(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "paid_up")

    for change in (void_invoice, mark_uncollectible):
        with pytest.raises(errors.InvalidInvoiceState) as raised:
            async with services.runtime.sessionmaker() as session, session.begin():
                await change(session, actor=admin, invoice_id=who.invoice_id, reason=REASON)
        assert raised.value.code == "INVALID_INVOICE_STATE"

    assert "Refund it instead" in raised.value.message
    async with services.runtime.sessionmaker() as session:
        invoice = await session.get(Invoice, who.invoice_id)
    assert invoice is not None and invoice.status == "paid"


async def test_a_reason_and_a_known_invoice_are_required(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    who = await unpaid(services, gql, localstripe, "no_reason")

    with pytest.raises(ReasonRequired):
        async with services.runtime.sessionmaker() as session, session.begin():
            await void_invoice(session, actor=admin, invoice_id=who.invoice_id, reason="")
    with pytest.raises(NotFound):
        async with services.runtime.sessionmaker() as session, session.begin():
            await mark_uncollectible(session, actor=admin, invoice_id=2**62, reason=REASON)

    async with services.runtime.sessionmaker() as session:
        invoice = await session.get(Invoice, who.invoice_id)
    assert invoice is not None and invoice.status == OPEN


JAN_31 = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
FEB_28 = datetime(2030, 2, 28, 12, 0, tzinfo=UTC)


async def _dunned(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, handle: str, *, days: int
) -> tuple[int, int]:
    """A Plus subscriber since Jan 31 whose Feb 28 renewal is declined, swept `days` days
    on (7: grace over, unpaid): (account id, the renewal's id)."""
    account_id = await subscriber_at(services, gql, localstripe, handle, now=JAN_31)
    await switch_card(services, localstripe, account_id, DECLINED_CARD)
    for offset in (0, 1, 3, 5, 7):
        if offset <= days:
            await billing_sweep(services, FEB_28 + timedelta(days=offset))
    return account_id, (await invoices_of(services, account_id))[-1].id


async def test_voiding_the_last_open_invoice_of_an_unpaid_subscription_restores_it(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    account_id, renewal_id = await _dunned(services, gql, localstripe, "voided", days=7)
    assert (await subscription_of(services, account_id)).status == UNPAID
    voided_at = FEB_28 + timedelta(days=8)

    async with services.runtime.sessionmaker() as session, session.begin():
        await void_invoice(
            session, actor=admin, invoice_id=renewal_id, reason=REASON, now=voided_at
        )

    subscription = await subscription_of(services, account_id)
    assert (subscription.status, subscription.past_due_since) == (ACTIVE, None)
    assert await plan_now(services, account_id, voided_at) == "plus"


async def test_writing_off_the_last_open_invoice_of_an_unpaid_subscription_cancels_it(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    account_id, renewal_id = await _dunned(services, gql, localstripe, "written", days=7)
    written_at = FEB_28 + timedelta(days=8)

    async with services.runtime.sessionmaker() as session, session.begin():
        await mark_uncollectible(
            session, actor=admin, invoice_id=renewal_id, reason="gone", now=written_at
        )

    subscription = await subscription_of(services, account_id)
    assert (subscription.status, subscription.cancel_reason) == (CANCELED, WRITTEN_OFF)
    assert (subscription.canceled_at, subscription.next_retry_at) == (written_at, None)
    assert await plan_now(services, account_id, written_at) == "free"
    # Free to subscribe again, with a working card.
    await switch_card(services, localstripe, account_id, GOOD_CARD)
    await subscriptions.subscribe(
        services.runtime.transactions,
        billing_of(services),
        account_id=account_id,
        spec=SubscriptionSpec("plus", "month", "USD", "US", None),
        now=written_at,
    )
    assert (await subscription_of(services, account_id)).status == ACTIVE


async def test_writing_off_a_past_due_subscriptions_invoice_ends_its_dunning(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    account_id, renewal_id = await _dunned(services, gql, localstripe, "in_grace", days=1)
    assert (await subscription_of(services, account_id)).status == PAST_DUE

    async with services.runtime.sessionmaker() as session, session.begin():
        await mark_uncollectible(
            session,
            actor=admin,
            invoice_id=renewal_id,
            reason="goodwill",
            now=FEB_28 + timedelta(days=2),
        )

    subscription = await subscription_of(services, account_id)
    assert (subscription.status, subscription.next_retry_at) == (ACTIVE, None)
    assert (await billing_sweep(services, FEB_28 + timedelta(days=7))).dunning == 0
    assert (await subscription_of(services, account_id)).status == ACTIVE
