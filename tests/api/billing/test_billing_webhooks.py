"""POST /webhooks/stripe: signatures, bad input, exactly-once application, and the replay of
every handled event type, three times, shuffled and concurrent."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections import Counter
from typing import Any

import httpx
import pytest
import stripe
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from app.runtime import Services
from app.settings import Settings
from models.audit.tables import AuditEntry
from models.billing import credit_notes
from models.billing import webhooks as billing_webhooks
from models.billing.ledger import CreditNote, Dispute, Invoice, Payment, StripeEvent
from models.billing.tables import Subscription
from models.mail.tables import OutboundEmail
from tests.conftest import eventually, make_settings
from tests.support.accounts import sign_up
from tests.support.backends import Database
from tests.support.billing import (
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    account_id_of,
    authenticate,
    dispute_object,
    paid_subscriber,
    pending_subscriber,
    post_event,
    refund_in_stripe,
)
from tests.support.graphql import GraphQLClient
from tests.support.servers import ChirpServer, running
from tests.support.staff import grant
from tests.support.stripe import LocalStripe, sign_event, stripe_event

REPLAY_SEED = 20240611


@pytest.fixture
def settings(database: Database, localstripe: LocalStripe) -> Settings:
    return make_settings(
        database, stripe_api_base=localstripe.api_base, stripe_webhook_secret=WEBHOOK_SECRET
    )


async def _stripe_events(services: Services) -> int:
    async with services.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(StripeEvent)) or 0)


async def _payment(services: Services, intent_id: str) -> Payment:
    async with services.runtime.sessionmaker() as session:
        payment = await session.scalar(
            select(Payment).where(Payment.stripe_payment_intent_id == intent_id)
        )
    assert payment is not None
    return payment


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def test_a_forged_signature_is_refused(http: httpx.AsyncClient, services: Services) -> None:
    event = stripe_event(
        "payment_intent.succeeded", {"id": "pi_forged", "object": "payment_intent"}
    )

    response = await post_event(http, event, secret="whsec_not_chirps")

    assert response.status_code == 400
    assert _error_code(response) == "INVALID_SIGNATURE"
    assert await _stripe_events(services) == 0


async def test_a_tampered_body_is_refused(http: httpx.AsyncClient, services: Services) -> None:
    body, header = sign_event(stripe_event("charge.refunded", {"id": "ch_1"}), WEBHOOK_SECRET)

    response = await http.post(
        WEBHOOK_PATH, content=body.replace(b"ch_1", b"ch_2"), headers={"stripe-signature": header}
    )

    assert response.status_code == 400
    assert _error_code(response) == "INVALID_SIGNATURE"


async def test_a_stale_timestamp_is_refused(http: httpx.AsyncClient, services: Services) -> None:
    event = stripe_event("payment_intent.succeeded", {"id": "pi_old", "object": "payment_intent"})
    too_old = int(time.time()) - services.runtime.settings.stripe_webhook_tolerance - 60

    response = await post_event(http, event, timestamp=too_old)

    assert response.status_code == 400
    assert _error_code(response) == "INVALID_SIGNATURE"
    assert await _stripe_events(services) == 0


@pytest.mark.parametrize("header", [None, "", "t=1,v1=", "garbage", "v1=abc"])
async def test_a_missing_or_malformed_header_is_refused(
    http: httpx.AsyncClient, header: str | None
) -> None:
    body, _ = sign_event(stripe_event("charge.refunded", {"id": "ch_1"}), WEBHOOK_SECRET)
    headers = {} if header is None else {"stripe-signature": header}

    response = await http.post(WEBHOOK_PATH, content=body, headers=headers)

    assert response.status_code == 400
    assert _error_code(response) == "INVALID_SIGNATURE"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe\x00",
        b"[]",
        b'"an event"',
        b'{"id": "evt_1"}',
        b'{"id": "evt_1", "type": "charge.refunded", "created": 1, "data": {"object": 5}}',
        b'{"id": 7, "type": "x", "created": 1, "data": {"object": {}}}',
        b'{"id": "evt_2", "type": "x", "created": 1e400, "data": {"object": {}}}',
        # Handled types with objects Chirp cannot read.
        b'{"id": "evt_3", "type": "charge.dispute.created", "created": 1, "data": {"object": {"id": "dp_1"}}}',
        b'{"id": "evt_4", "type": "payment_intent.succeeded", "created": 1, "data": {"object": {"id": ["pi"]}}}',
        b'{"id": "evt_5", "type": "payment_intent.payment_failed", "created": 1, "data": {"object": {}}}',
    ],
)
async def test_a_signed_body_that_is_not_an_event_is_invalid_payload(
    http: httpx.AsyncClient, services: Services, body: bytes
) -> None:
    header = _sign_bytes(body)

    response = await http.post(WEBHOOK_PATH, content=body, headers={"stripe-signature": header})

    assert response.status_code == 400, response.text
    assert _error_code(response) == "INVALID_PAYLOAD"
    assert await _stripe_events(services) == 0


def _sign_bytes(body: bytes) -> str:
    """A valid signature of any bytes (sign_event signs JSON only)."""
    timestamp = int(time.time())
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(WEBHOOK_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


async def test_an_oversized_body_is_refused_without_reading_it_all(
    http: httpx.AsyncClient,
) -> None:
    # Over MAX_WEBHOOK_BODY_BYTES (1 MiB): a dispute's evidence alone may pass 256 KiB.
    event = stripe_event("x.big", {"id": "x", "padding": "a" * 1_100_000})

    response = await post_event(http, event)

    assert response.status_code == 413
    assert _error_code(response) == "PAYLOAD_TOO_LARGE"


async def test_an_unknown_event_type_is_recorded_once_and_ignored(
    http: httpx.AsyncClient, services: Services
) -> None:
    event = stripe_event("customer.created", {"id": "cus_x", "object": "customer"})

    first = await post_event(http, event)
    again = await post_event(http, event)

    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (again.status_code, again.json()) == (200, {"received": True, "duplicate": True})
    assert await _stripe_events(services) == 1


@pytest.mark.processes
async def test_a_payment_chirp_already_applied_changes_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    subscriber = await paid_subscriber(services, gql, localstripe, "paula")
    assert subscriber.intent_id is not None
    client = localstripe.client(services.runtime.settings)
    intent = (await client.v1.payment_intents.retrieve_async(subscriber.intent_id)).to_dict()
    before = await _payment(services, subscriber.intent_id)
    payments_before = _sample("chirp_payments_total", outcome="succeeded")

    succeeded = await post_event(http, stripe_event("payment_intent.succeeded", intent))
    failed_late = await post_event(http, stripe_event("payment_intent.payment_failed", intent))

    assert succeeded.json() == {"received": True, "duplicate": False}
    assert failed_late.json() == {"received": True, "duplicate": False}
    after = await _payment(services, subscriber.intent_id)
    assert (after.status, after.amount, after.updated_at) == (
        before.status,
        before.amount,
        before.updated_at,
    )
    assert _sample("chirp_payments_total", outcome="succeeded") == payments_before
    async with services.runtime.sessionmaker() as session:
        invoice = await session.get(Invoice, subscriber.invoice_id)
    assert invoice is not None and invoice.amount_paid == subscriber.amount_paid


@pytest.mark.processes
async def test_a_succeeded_webhook_settles_a_payment_whose_answer_chirp_lost(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    account_id, intent_id = await pending_subscriber(services, gql, localstripe, "sam")
    intent = await authenticate(services, localstripe, intent_id, success=True)
    counted = _sample("chirp_payments_total", outcome="succeeded")
    inbound = _sample("chirp_webhooks_total", direction="inbound", outcome="succeeded")

    response = await post_event(http, stripe_event("payment_intent.succeeded", intent))

    assert response.json() == {"received": True, "duplicate": False}
    payment = await _payment(services, intent_id)
    assert payment.status == "succeeded"
    assert payment.stripe_charge_id == intent["latest_charge"]["id"]
    async with services.runtime.sessionmaker() as session:
        subscription = await session.scalar(
            select(Subscription).where(Subscription.account_id == account_id)
        )
    assert subscription is not None and subscription.status == "active"
    assert _sample("chirp_payments_total", outcome="succeeded") == counted + 1
    assert _sample("chirp_webhooks_total", direction="inbound", outcome="succeeded") == inbound + 1


@pytest.mark.processes
async def test_a_refund_event_without_its_refunds_fetches_them_from_stripe(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    subscriber = await paid_subscriber(services, gql, localstripe, "rita")
    assert subscriber.intent_id is not None
    charge = await refund_in_stripe(services, localstripe, subscriber.intent_id, 250)
    # As recent API versions send it: no `refunds` on the charge.
    charge.pop("refunds")

    response = await post_event(http, stripe_event("charge.refunded", charge))

    assert response.status_code == 200, response.text
    async with services.runtime.sessionmaker() as session:
        notes = list(await session.scalars(select(CreditNote)))
        invoice = await session.get(Invoice, subscriber.invoice_id)
    assert [(n.amount, n.status, n.stripe_refund_id is not None) for n in notes] == [
        (250, "issued", True)
    ]
    assert invoice is not None and invoice.amount_refunded == 250


@pytest.mark.parametrize(
    "metadata", ["\u00b2", "\u0661", "1" * 19, "99999999999999999999999", "-1", " 1", "1.0"]
)
async def test_a_refund_whose_credit_note_id_chirp_never_wrote_counts_as_external(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    services: Services,
    localstripe: LocalStripe,
    metadata: str,
) -> None:
    subscriber = await paid_subscriber(services, gql, localstripe, "rita")
    assert subscriber.intent_id is not None
    charge = await refund_in_stripe(services, localstripe, subscriber.intent_id, 250)
    charge.pop("refunds")
    client = localstripe.client(services.runtime.settings)
    listed = await client.v1.refunds.list_async(params={"charge": charge["id"]})
    refunds = [{**r.to_dict(), "metadata": {"chirp_credit_note_id": metadata}} for r in listed.data]
    charge["refunds"] = {"object": "list", "data": refunds, "has_more": False}

    response = await post_event(http, stripe_event("charge.refunded", charge))

    assert response.status_code == 200, response.text
    async with services.runtime.sessionmaker() as session:
        notes = list(await session.scalars(select(CreditNote)))
    assert [(n.amount, n.status, n.reason) for n in notes] == [
        (250, "issued", credit_notes.EXTERNAL_REASON)
    ]


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (ValueError("a value the handler did not expect"), 400, "INVALID_PAYLOAD"),
        (
            OverflowError("Python int too large to convert to SQLite INTEGER"),
            400,
            "INVALID_PAYLOAD",
        ),
        (KeyError("refunds"), 400, "INVALID_PAYLOAD"),
        (
            OperationalError("SELECT 1", {}, Exception("connection lost")),
            503,
            "TEMPORARILY_UNAVAILABLE",
        ),
        (stripe.APIConnectionError("no route"), 503, "PAYMENT_PROCESSOR_UNAVAILABLE"),
        (RuntimeError("a bug"), 503, "TEMPORARILY_UNAVAILABLE"),
    ],
)
async def test_an_unexpected_failure_applying_a_verified_event_is_never_a_500(
    http: httpx.AsyncClient,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
    status: int,
    code: str,
) -> None:
    async def fail(*args: Any, **kwargs: Any) -> None:
        raise failure

    monkeypatch.setattr(billing_webhooks, "receive_event", fail)
    event = stripe_event("payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent"})

    response = await post_event(http, event)

    assert (response.status_code, _error_code(response)) == (status, code)
    assert "Traceback" not in response.text and "a bug" not in response.text
    assert any(r.exc_info and r.exc_info[1] is failure for r in caplog.records)
    assert await _stripe_events(services) == 0


@pytest.mark.processes
async def test_localstripe_delivers_payment_intent_succeeded_to_a_real_server(
    request: pytest.FixtureRequest,
    database: Database,
    gql: GraphQLClient,
    services: Services,
    localstripe: LocalStripe,
    tmp_path: Any,
) -> None:
    server = ChirpServer(
        "chirp",
        database,
        tmp_path,
        redis_url=database.redis_url,
        env={
            "STRIPE_API_BASE": localstripe.api_base,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        },
    )
    _, intent_id = await pending_subscriber(services, gql, localstripe, "walt")
    async with running(request, server):
        await localstripe.configure_webhook(
            f"{server.url}{WEBHOOK_PATH}", WEBHOOK_SECRET, events=["payment_intent.succeeded"]
        )
        try:
            await authenticate(services, localstripe, intent_id, success=True)

            async def settled() -> bool:
                return (await _payment(services, intent_id)).status == "succeeded"

            await eventually(settled, timeout=15)
        finally:
            await localstripe.remove_webhook()
    async with services.runtime.sessionmaker() as session:
        types = list(await session.scalars(select(StripeEvent.type)))
    assert "payment_intent.succeeded" in types


# --- The replay: every handled type, three times, shuffled, concurrent --------------------


async def _world(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe, name: str, base: int
) -> dict[str, Any]:
    """A payer (3-D Secure, then paid behind Chirp's back, partly refunded in Stripe, then
    disputed and the dispute lost), a decliner, and one event of each type about them."""
    _, payer_intent = await pending_subscriber(services, gql, localstripe, f"{name}payer")
    _, decline_intent = await pending_subscriber(services, gql, localstripe, f"{name}decliner")
    paid = await authenticate(services, localstripe, payer_intent, success=True)
    declined = await authenticate(services, localstripe, decline_intent, success=False)
    charge = await refund_in_stripe(services, localstripe, payer_intent, 300)
    dispute_id = f"dp_{name}"
    shapes = [
        ("payment_intent.succeeded", paid),
        ("payment_intent.payment_failed", declined),
        ("charge.refunded", charge),
        ("charge.dispute.created", dispute_object(charge, dispute_id, "needs_response")),
        ("charge.dispute.updated", dispute_object(charge, dispute_id, "under_review")),
        ("charge.dispute.closed", dispute_object(charge, dispute_id, "lost")),
        ("customer.updated", {"id": "cus_other", "object": "customer"}),
    ]
    events = [
        stripe_event(kind, obj, event_id=f"evt_{name}_{i}", created=base + i)
        for i, (kind, obj) in enumerate(shapes)
    ]
    return {
        "name": name,
        "payer": payer_intent,
        "decliner": decline_intent,
        "dispute": dispute_id,
        "refunds": [r["id"] for r in charge["refunds"]["data"]],
        "events": events,
    }


async def _state(services: Services, world: dict[str, Any]) -> dict[str, Any]:
    """Everything the world's events affect, with its own ids left out."""
    async with services.runtime.sessionmaker() as session:
        payer = await session.scalar(
            select(Payment).where(Payment.stripe_payment_intent_id == world["payer"])
        )
        decliner = await session.scalar(
            select(Payment).where(Payment.stripe_payment_intent_id == world["decliner"])
        )
        assert payer is not None and decliner is not None
        invoice = await session.get(Invoice, payer.invoice_id)
        subscription = await session.scalar(
            select(Subscription).where(Subscription.account_id == payer.account_id)
        )
        declined_subscription = await session.scalar(
            select(Subscription).where(Subscription.account_id == decliner.account_id)
        )
        notes = list(
            await session.scalars(
                select(CreditNote).where(CreditNote.invoice_id == payer.invoice_id)
            )
        )
        dispute = await session.scalar(
            select(Dispute).where(Dispute.stripe_dispute_id == world["dispute"])
        )
        emails = list(
            await session.scalars(
                select(OutboundEmail.key).where(
                    OutboundEmail.key.startswith(f"dispute:{world['dispute']}:")
                )
            )
        )
        audit = list(
            await session.scalars(
                select(AuditEntry.action).where(
                    (
                        (AuditEntry.target_type == "dispute")
                        & (AuditEntry.target_id == world["dispute"])
                    )
                    | (
                        (AuditEntry.target_type == "invoice")
                        & (AuditEntry.target_id == str(payer.invoice_id))
                    )
                )
            )
        )
        events = await session.scalar(
            select(func.count())
            .select_from(StripeEvent)
            .where(StripeEvent.id.in_([e["id"] for e in world["events"]]))
        )
    assert invoice is not None and subscription is not None and dispute is not None
    assert declined_subscription is not None
    return {
        "payer": (payer.status, payer.amount, payer.amount_refunded),
        "invoice": (invoice.status, invoice.amount_paid, invoice.amount_refunded),
        "subscription": (
            subscription.status,
            subscription.frozen,
            subscription.cancel_reason,
            subscription.canceled_at,
        ),
        "decliner": (decliner.status, decliner.failure_code),
        "declined_subscription": declined_subscription.status,
        "credit_notes": sorted(
            (n.amount, n.status, n.stripe_refund_id in world["refunds"]) for n in notes
        ),
        "notes_per_refund": sorted(Counter(n.stripe_refund_id for n in notes).values()),
        "dispute": (
            dispute.status,
            dispute.outcome,
            dispute.amount,
            dispute.opened_at,
            dispute.closed_at,
        ),
        "emails": sorted(k.replace(world["dispute"], "DP") for k in emails),
        "audit": sorted(audit),
        "event_rows": events,
    }


@pytest.mark.processes
async def test_replaying_every_event_three_times_shuffled_and_concurrently_changes_nothing_more(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    for handle in ("bea", "bob"):
        await sign_up(gql, handle)
        await grant(services, handle, "BILLING_ADMIN")
    staff = sorted([await account_id_of(services, "bea"), await account_id_of(services, "bob")])
    # Both worlds' events carry the same times, as two deliveries of one history would.
    base = int(time.time()) - 100
    in_order = await _world(services, gql, localstripe, "a", base)
    replayed = await _world(services, gql, localstripe, "b", base)
    deliveries = replayed["events"] * 3
    random.Random(REPLAY_SEED).shuffle(deliveries)

    for event in in_order["events"]:
        assert (await post_event(http, event)).json()["duplicate"] is False
    answers = await asyncio.gather(*(post_event(http, event) for event in deliveries))

    assert [a.status_code for a in answers] == [200] * len(deliveries)
    firsts = Counter(
        json.loads(a.request.content)["id"] for a in answers if not a.json()["duplicate"]
    )
    assert firsts == Counter({e["id"]: 1 for e in replayed["events"]})
    expected = await _state(services, in_order)
    assert await _state(services, replayed) == expected
    # And that state is the one intended: each effect exactly once.
    assert expected["payer"] == ("succeeded", expected["payer"][1], 300)
    assert expected["invoice"] == ("paid", expected["payer"][1], expected["payer"][1])
    assert expected["subscription"][:3] == ("canceled", False, "dispute_lost")
    assert expected["decliner"] == ("failed", "payment_intent_authentication_failure")
    assert expected["credit_notes"] == [(300, "issued", True)]
    assert expected["notes_per_refund"] == [1]
    assert expected["dispute"][:2] == ("lost", "lost")
    assert expected["emails"] == sorted(
        f"dispute:DP:{event}:{staff_id}" for event in ("opened", "closed") for staff_id in staff
    )
    assert expected["audit"] == sorted(
        ["billing.dispute_open", "billing.dispute_lost", "billing.refund_external"]
    )
    assert expected["event_rows"] == len(in_order["events"])


async def test_a_refund_counts_only_once_it_succeeded_and_a_later_failure_reverses_it_once(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    # localstripe's refunds succeed at once: Stripe's later answers are built and signed here.
    await sign_up(gql, "bea")
    await grant(services, "bea", "BILLING_ADMIN")
    subscriber = await paid_subscriber(services, gql, localstripe, "rita")
    assert subscriber.intent_id is not None
    charge = await refund_in_stripe(services, localstripe, subscriber.intent_id, 250)
    [made] = charge["refunds"]["data"]
    pending = {**made, "status": "pending"}
    charge["refunds"]["data"] = [pending]

    async def state() -> tuple[list[tuple[int, str, int | None]], int, list[str]]:
        async with services.runtime.sessionmaker() as session:
            notes = await session.scalars(select(CreditNote).order_by(CreditNote.id))
            invoice = await session.get(Invoice, subscriber.invoice_id)
            mails = await session.scalars(
                select(OutboundEmail.key).where(OutboundEmail.key.startswith("refund:"))
            )
            assert invoice is not None
            return (
                [(n.amount, n.status, n.number) for n in notes],
                invoice.amount_refunded,
                [m.replace(made["id"], "RE") for m in mails],
            )

    assert (await post_event(http, stripe_event("charge.refunded", charge))).status_code == 200
    assert await state() == ([], 0, [])
    succeeded = stripe_event("charge.refund.updated", {**made, "status": "succeeded"})
    assert (await post_event(http, succeeded)).status_code == 200
    assert await state() == ([(250, "issued", 1)], 250, [])

    failed = stripe_event("charge.refund.updated", {**made, "status": "failed"})
    answers = [
        await post_event(http, event) for event in (failed, failed, {**failed, "id": "evt_x"})
    ]

    assert [a.json()["duplicate"] for a in answers] == [False, True, False]
    bea = await account_id_of(services, "bea")
    assert await state() == ([(250, "reversed", 1)], 0, [f"refund:RE:failed:{bea}"])
