"""Refunds through a real localstripe (behind a proxy that records idempotency keys and can
lose answers): full and partial, never more than was paid, one winner when two race, numbered
credit notes with no gaps, audited, and a retry after a lost answer refunds once."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.runtime import Services
from models.access.errors import ReasonRequired
from models.audit.actions import Actor
from models.base import utcnow
from models.billing import errors, refunds
from models.billing.credit_notes import record_external_refund
from models.billing.gateway import StripeGateway
from models.billing.ledger import ISSUED, PENDING, CreditNote, Invoice, Payment
from models.billing.tables import StripeRequest
from models.errors import NotFound
from tests.conftest import NO_STRIPE
from tests.support.audit import audit_entries
from tests.support.billing import (
    DECLINED_CARD,
    Subscriber,
    actor_for,
    billing_of,
    paid_subscriber,
)
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff
from tests.support.stripe import LocalStripe
from tests.support.stripe_proxy import (  # noqa: F401 - the `proxy` and `settings` fixtures
    RecordingProxy,
    proxied_settings,
    proxy_fixture,
)

REFUNDS = ("POST", "/v1/refunds")
REASON = "customer asked within 14 days"


@pytest.fixture
async def admin(gql: GraphQLClient, services: Services) -> Actor:
    staff = await make_staff(gql, services, "ledger", "BILLING_ADMIN")
    return await actor_for(services, staff, "BILLING_ADMIN")


async def refund(
    services: Services, actor: Actor, invoice_id: int, amount: int | None, **extra: Any
) -> CreditNote:
    return await refunds.refund_invoice(
        services.runtime.transactions,
        billing_of(services),
        actor=actor,
        invoice_id=invoice_id,
        amount=amount,
        reason=extra.pop("reason", REASON),
        **extra,
    )


async def stripe_refunds(
    services: Services, localstripe: LocalStripe, intent_id: str | None
) -> list[tuple[int, str]]:
    """The refunds localstripe holds for the intent, as (amount, credit note id) sorted (it
    orders by the second they were made in)."""
    assert intent_id is not None
    client = localstripe.client(services.runtime.settings)
    found = await client.v1.refunds.list_async(params={"payment_intent": intent_id})
    return sorted(
        (
            r.amount,
            (r.metadata.to_dict() if r.metadata else {}).get(refunds.CREDIT_NOTE_METADATA, ""),
        )
        for r in found.data
    )


async def ledger(services: Services, who: Subscriber) -> tuple[Invoice, Payment, list[CreditNote]]:
    async with services.runtime.sessionmaker() as session:
        invoice = await session.get(Invoice, who.invoice_id)
        payment = await session.scalar(
            select(Payment).where(Payment.stripe_payment_intent_id == who.intent_id)
        )
        notes = list(
            await session.scalars(
                select(CreditNote)
                .where(CreditNote.invoice_id == who.invoice_id)
                .order_by(CreditNote.id)
            )
        )
    assert invoice is not None and payment is not None
    return invoice, payment, notes


async def test_a_full_refund_reaches_stripe_and_issues_a_credit_note(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "full_refund")

    note = await refund(services, admin, who.invoice_id, None)

    assert who.amount_paid == 500
    assert (note.status, note.number, note.amount, note.currency) == (ISSUED, 1, 500, "USD")
    assert await stripe_refunds(services, localstripe, who.intent_id) == [(500, str(note.id))]
    invoice, payment, notes = await ledger(services, who)
    assert invoice.amount_refunded == payment.amount_refunded == 500
    assert [n.stripe_refund_id for n in notes] == [note.stripe_refund_id]


async def test_partial_refunds_then_the_rest_with_gap_free_numbers(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "partial", currency="JPY")
    other = await paid_subscriber(services, gql, localstripe, "other_refund")

    first = await refund(services, admin, who.invoice_id, 200)
    with pytest.raises(errors.RefundTooLarge):
        await refund(services, admin, who.invoice_id, who.amount_paid)
    between = await refund(services, admin, other.invoice_id, 100)
    rest = await refund(services, admin, who.invoice_id, None)

    assert (who.amount_paid, who.currency) == (700, "JPY")
    assert [first.number, between.number, rest.number] == [1, 2, 3]
    assert (first.amount, rest.amount) == (200, 500)
    assert [a for a, _ in await stripe_refunds(services, localstripe, who.intent_id)] == [200, 500]
    invoice, payment, notes = await ledger(services, who)
    assert invoice.amount_refunded == payment.amount_refunded == 700
    assert invoice.status == "paid"
    assert [n.status for n in notes] == [ISSUED, ISSUED]


async def test_more_than_was_paid_or_is_left_is_refused(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    admin: Actor,
    proxy: RecordingProxy,
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "too_much")

    with pytest.raises(errors.RefundTooLarge) as over_paid:
        await refund(services, admin, who.invoice_id, who.amount_paid + 1)
    await refund(services, admin, who.invoice_id, 300)
    with pytest.raises(errors.RefundTooLarge) as over_left:
        await refund(services, admin, who.invoice_id, 201)
    await refund(services, admin, who.invoice_id, 200)
    with pytest.raises(errors.RefundTooLarge) as nothing_left:
        await refund(services, admin, who.invoice_id, None)

    assert over_paid.value.code == over_left.value.code == "REFUND_EXCEEDS_PAID"
    assert "$2.00" in over_left.value.message
    assert nothing_left.value.code == "REFUND_EXCEEDS_PAID"
    assert len(proxy.keys(*REFUNDS)) == 2
    assert [a for a, _ in await stripe_refunds(services, localstripe, who.intent_id)] == [200, 300]


async def test_bad_input_is_refused_before_stripe_is_asked(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    admin: Actor,
    proxy: RecordingProxy,
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "bad_input")

    with pytest.raises(ReasonRequired):
        await refund(services, admin, who.invoice_id, 100, reason="  ")
    for amount in (0, -5, 10**13):
        with pytest.raises(errors.InvalidAmount):
            await refund(services, admin, who.invoice_id, amount)
    with pytest.raises(NotFound) as unknown:
        await refund(services, admin, 2**62, 100)

    assert unknown.value.code == "NOT_FOUND"
    assert proxy.keys(*REFUNDS) == []


async def test_an_open_invoice_is_not_refundable(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "open_one", card=DECLINED_CARD)

    with pytest.raises(errors.InvoiceNotRefundable) as raised:
        await refund(services, admin, who.invoice_id, None)

    assert raised.value.code == "INVOICE_NOT_REFUNDABLE"
    async with services.runtime.sessionmaker() as session:
        invoice = await session.get(Invoice, who.invoice_id)
        notes = list(await session.scalars(select(CreditNote)))
    assert invoice is not None and invoice.status == "open" and notes == []


async def test_two_concurrent_refunds_of_the_remainder_one_wins(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "racing")
    await refund(services, admin, who.invoice_id, 100)

    results = await asyncio.gather(
        refund(services, admin, who.invoice_id, 400),
        refund(services, admin, who.invoice_id, None),
        return_exceptions=True,
    )

    won = [r for r in results if isinstance(r, CreditNote)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and won[0].amount == 400 and won[0].number == 2
    assert len(lost) == 1 and isinstance(lost[0], errors.RefundTooLarge)
    assert [a for a, _ in await stripe_refunds(services, localstripe, who.intent_id)] == [100, 400]
    invoice, _, _ = await ledger(services, who)
    assert invoice.amount_refunded == 500


async def test_a_refund_is_audited_with_the_amounts_before_and_after(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, admin: Actor
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "audited")

    note = await refund(services, admin, who.invoice_id, 150)

    [entry] = await audit_entries(services, "billing.refund")
    assert (entry.actor_id, entry.actor_handle) == (admin.account_id, "ledger")
    assert (entry.target_type, entry.target_id, entry.reason) == (
        "invoice",
        str(who.invoice_id),
        REASON,
    )
    assert entry.before == {"amount_refunded": 0}
    assert entry.after is not None
    assert entry.after["amount_refunded"] == 150
    assert entry.after["credit_note_number"] == note.number
    assert entry.after["stripe_refund_id"] == note.stripe_refund_id


async def test_a_retry_after_a_lost_answer_refunds_once(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    admin: Actor,
    proxy: RecordingProxy,
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "lost_answer")
    proxy.lose_next.add(REFUNDS)

    with pytest.raises(errors.PaymentProcessorUnavailable):
        await refund(services, admin, who.invoice_id, 250)
    _, _, pending = await ledger(services, who)
    retried = await refund(services, admin, who.invoice_id, 250)

    assert [n.status for n in pending] == [PENDING] and pending[0].number is None
    assert retried.id == pending[0].id and retried.status == ISSUED and retried.number == 1
    key = f"chirp-refund-{retried.id}"
    assert proxy.keys(*REFUNDS) == [key]
    assert await stripe_refunds(services, localstripe, who.intent_id) == [(250, str(retried.id))]
    async with services.runtime.sessionmaker() as session:
        stored = await session.get(StripeRequest, key)
    assert stored is not None and stored.result_id == retried.stripe_refund_id
    invoice, payment, _ = await ledger(services, who)
    assert invoice.amount_refunded == payment.amount_refunded == 250


async def test_a_retry_after_stripe_was_unreachable_sends_the_stored_key(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    admin: Actor,
    proxy: RecordingProxy,
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "unreachable")
    settings = services.runtime.settings
    offline = dataclasses.replace(
        billing_of(services),
        gateway=StripeGateway(api_key=settings.stripe_api_key, api_base=NO_STRIPE, timeout=2.0),
    )

    with pytest.raises(errors.PaymentProcessorUnavailable):
        await refunds.refund_invoice(
            services.runtime.transactions,
            offline,
            actor=admin,
            invoice_id=who.invoice_id,
            amount=None,
            reason=REASON,
        )
    async with services.runtime.sessionmaker() as session:
        reserved = list(await session.scalars(select(StripeRequest.key)))
    retried = await refund(services, admin, who.invoice_id, None)

    key = f"chirp-refund-{retried.id}"
    assert key in reserved
    assert proxy.keys(*REFUNDS) == [key]
    assert await stripe_refunds(services, localstripe, who.intent_id) == [(500, str(retried.id))]


async def test_an_interrupted_refund_is_finished_before_another_starts(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    admin: Actor,
    proxy: RecordingProxy,
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "interrupted")
    proxy.lose_next.add(REFUNDS)
    with pytest.raises(errors.PaymentProcessorUnavailable):
        await refund(services, admin, who.invoice_id, 100)

    later = await refund(services, admin, who.invoice_id, 300, now=utcnow() + timedelta(hours=1))

    _, _, notes = await ledger(services, who)
    assert [(n.amount, n.number, n.status) for n in notes] == [(100, 1, ISSUED), (300, 2, ISSUED)]
    assert later.id == notes[1].id
    assert [a for a, _ in await stripe_refunds(services, localstripe, who.intent_id)] == [100, 300]


async def test_a_refund_made_at_stripe_is_recorded_once(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "dashboard")
    assert who.intent_id is not None
    client = localstripe.client(services.runtime.settings)
    made = await client.v1.refunds.create_async(
        params={"payment_intent": who.intent_id, "amount": 120}
    )

    async with services.runtime.sessionmaker() as session, session.begin():
        first = await record_external_refund(
            session, stripe_refund_id=made.id, intent_id=who.intent_id, amount=120, now=utcnow()
        )
    async with services.runtime.sessionmaker() as session, session.begin():
        again = await record_external_refund(
            session, stripe_refund_id=made.id, intent_id=who.intent_id, amount=120, now=utcnow()
        )
        unknown = await record_external_refund(
            session, stripe_refund_id="re_unknown", intent_id="pi_nope", amount=120, now=utcnow()
        )

    assert first is not None and (first.number, first.amount, first.status) == (1, 120, ISSUED)
    assert again is None and unknown is None
    invoice, payment, notes = await ledger(services, who)
    assert invoice.amount_refunded == payment.amount_refunded == 120
    assert len(notes) == 1


async def test_a_webhook_for_our_own_lost_refund_issues_its_pending_credit_note(
    services: Services,
    gql: GraphQLClient,
    localstripe: LocalStripe,
    admin: Actor,
    proxy: RecordingProxy,
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "webhook_first")
    assert who.intent_id is not None
    proxy.lose_next.add(REFUNDS)
    with pytest.raises(errors.PaymentProcessorUnavailable):
        await refund(services, admin, who.invoice_id, 200)
    [(_, note_id)] = await stripe_refunds(services, localstripe, who.intent_id)
    client = localstripe.client(services.runtime.settings)
    [made] = (await client.v1.refunds.list_async(params={"payment_intent": who.intent_id})).data

    async with services.runtime.sessionmaker() as session, session.begin():
        recorded = await record_external_refund(
            session,
            stripe_refund_id=made.id,
            intent_id=who.intent_id,
            amount=200,
            now=utcnow(),
            credit_note_id=int(note_id),
        )
    rest = await refund(services, admin, who.invoice_id, None)

    assert recorded is not None and recorded.id == int(note_id) and recorded.number == 1
    assert (rest.amount, rest.number) == (300, 2)
    invoice, _, notes = await ledger(services, who)
    assert invoice.amount_refunded == 500
    assert [n.status for n in notes] == [ISSUED, ISSUED]
    assert proxy.keys(*REFUNDS) == [f"chirp-refund-{recorded.id}", f"chirp-refund-{rest.id}"]
    assert [a for a, _ in await stripe_refunds(services, localstripe, who.intent_id)] == [200, 300]
