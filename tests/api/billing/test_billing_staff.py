"""The billing back office: a customer's billing on `Account` (audited reads), prices,
refunds, closing invoices and recording usage; each refused without BILLING_ADMIN (or
ADMIN)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from app.runtime import Services
from app.settings import Settings
from models.billing import errors as billing_errors
from models.billing.tables import Price
from tests.support.accounts import User, sign_up
from tests.support.billing import (
    billing_of,
    localstripe_settings,  # noqa: F401 - `settings`
)
from tests.support.billing_flows import (
    DECLINED_ON_CHARGE,
    ERROR,
    add_card,
    subscribe,
    subscribed,
)
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff
from tests.support.stripe import LocalStripe
from tests.support.webhooks import audit_entries

CUSTOMER = """
query ($id: ID!) {
  node(id: $id) { ... on Account {
    billing { currency plan { code } subscription { status }
              invoices(first: 5) { edges { node { id status amountPaid { amount } } } } }
  } }
}
"""
SET_PRICE = f"""
mutation ($input: SetPlanPriceInput!) {{
  setPlanPrice(input: $input) {{
    __typename ... on PricePayload {{ price {{ id active amount {{ amount currency }} }} }}
    {ERROR}
  }}
}}
"""
REFUND = f"""
mutation ($input: RefundInvoiceInput!) {{
  refundInvoice(input: $input) {{
    __typename ... on CreditNotePayload {{ creditNote {{ number amount {{ amount }} reason }} }}
    {ERROR}
  }}
}}
"""
VOID = f"""
mutation ($input: CloseInvoiceInput!) {{
  voidInvoice(input: $input) {{
    __typename ... on InvoicePayload {{ invoice {{ id status voidedAt }} }}
    {ERROR}
  }}
}}
"""
UNCOLLECTIBLE = VOID.replace("voidInvoice", "markInvoiceUncollectible")
USAGE = f"""
mutation ($input: RecordUsageInput!) {{
  recordUsage(input: $input) {{
    __typename ... on UsagePayload {{ eventId quantity }}
    {ERROR}
  }}
}}
"""
OWNER_NOTES = """
{ viewerBilling { invoices(first: 5) { edges { node {
    creditNotes { number status amount { amount } reason } } } } } }
"""
STAFF_NOTES = """
query ($id: ID!) { node(id: $id) { ... on Account { billing { invoices(first: 5) { edges {
    node { creditNotes { number status amount { amount } reason } } } } } } } }
"""
UPCOMING = """
{ viewerBilling { upcomingInvoice { lines { kind amount { amount } } amountDue { amount } } } }
"""


async def _run(
    gql: GraphQLClient, document: str, values: dict[str, Any], staff: User
) -> dict[str, Any]:
    data = await gql.execute(document, {"input": values}, token=staff.token)
    result: dict[str, Any] = next(iter(data.values()))
    return result


async def test_billing_staff_read_a_customers_billing_and_the_read_is_audited(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe, settings: Settings
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    ada = await sign_up(gql, "ada")
    await subscribed(gql, localstripe, settings, ada)

    seen = (await gql.execute(CUSTOMER, {"id": ada.id}, token=staff.token))["node"]["billing"]
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    refused = await gql.errors(CUSTOMER, {"id": ada.id}, token=moderator.token)
    own = await gql.errors(CUSTOMER, {"id": ada.id}, token=ada.token)

    assert seen["plan"] == {"code": "plus"} and seen["subscription"] == {"status": "ACTIVE"}
    assert seen["invoices"]["edges"][0]["node"]["amountPaid"] == {"amount": 500}
    assert refused[0]["extensions"]["code"] == "FORBIDDEN"
    assert own[0]["extensions"]["code"] == "FORBIDDEN"  # owners use viewerBilling
    [read] = await audit_entries(services, "read.billing")
    assert read.actor_handle == "billing" and read.target_type == "account"


async def test_a_new_price_is_for_new_subscribers_and_existing_ones_keep_theirs(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe, settings: Settings
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    ada = await sign_up(gql, "ada")
    before = await subscribed(gql, localstripe, settings, ada)
    price = {"planCode": "plus", "currency": "USD", "interval": "MONTH", "reason": "inflation"}

    changed = await _run(gql, SET_PRICE, {**price, "amount": 700}, staff)
    eve = await sign_up(gql, "eve")
    after = await subscribed(gql, localstripe, settings, eve)
    kept = (await gql.execute(CUSTOMER, {"id": ada.id}, token=staff.token))["node"]["billing"]
    bad = [
        await _run(gql, SET_PRICE, {**price, "amount": 0}, staff),
        await _run(gql, SET_PRICE, {**price, "amount": 700, "currency": "CHF"}, staff),
        await _run(gql, SET_PRICE, {**price, "amount": 700, "planCode": "free"}, staff),
        await _run(gql, SET_PRICE, {**price, "amount": 700, "reason": "x"}, staff),
    ]

    assert changed["price"]["active"] is True
    assert changed["price"]["amount"] == {"amount": 700, "currency": "USD"}
    assert before["price"]["amount"]["amount"] == 500
    assert after["price"]["amount"]["amount"] == 700
    assert kept["invoices"]["edges"][0]["node"]["amountPaid"] == {"amount": 500}
    assert [(b["code"], b["field"]) for b in bad] == [
        ("INVALID_AMOUNT", "amount"),
        ("UNSUPPORTED_CURRENCY", "currency"),
        ("UNKNOWN_PLAN", "planCode"),
        ("REASON_REQUIRED", "reason"),
    ]
    [entry] = [e for e in await audit_entries(services, "billing.price") if e.outcome == "ok"]
    assert entry.reason == "inflation"
    assert entry.before is not None and entry.before["amount"] == 500
    assert entry.after is not None and entry.after["amount"] == 700


async def test_a_paid_invoice_is_refunded_in_part_then_no_more_than_paid(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe, settings: Settings
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    ada = await sign_up(gql, "ada")
    invoice = (await subscribed(gql, localstripe, settings, ada))["latestInvoice"]
    refund = {"invoiceId": invoice["id"], "reason": "service outage"}

    part = await _run(gql, REFUND, {**refund, "amount": 200}, staff)
    too_much = await _run(gql, REFUND, {**refund, "amount": 301}, staff)
    rest = await _run(gql, REFUND, refund, staff)
    nothing_left = await _run(gql, REFUND, refund, staff)
    unknown = await _run(gql, REFUND, {**refund, "invoiceId": "SW52b2ljZTo5OTk5"}, staff)

    assert part["creditNote"]["amount"] == {"amount": 200}
    assert part["creditNote"]["reason"] == "service outage"
    assert (too_much["code"], too_much["field"]) == ("REFUND_EXCEEDS_PAID", "amount")
    assert rest["creditNote"]["amount"] == {"amount": 300}
    assert nothing_left["code"] == "REFUND_EXCEEDS_PAID"
    assert (unknown["__typename"], unknown["code"]) == ("NotFoundError", "NOT_FOUND")
    refunds = [e for e in await audit_entries(services, "billing.refund") if e.outcome == "ok"]
    assert len(refunds) == 2


async def test_the_customer_sees_issued_credit_notes_only_and_never_the_staff_reason(
    gql: GraphQLClient,
    services: Services,
    localstripe: LocalStripe,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    ada = await sign_up(gql, "ada")
    invoice = (await subscribed(gql, localstripe, settings, ada))["latestInvoice"]
    refund = {"invoiceId": invoice["id"], "reason": "INTERNAL: account sharing, ticket 4411"}
    made = await _run(gql, REFUND, {**refund, "amount": 100}, staff)

    async def refuse(**kwargs: Any) -> str:
        raise billing_errors.RefundRefused("refused", field="amount")

    monkeypatch.setattr(billing_of(services).gateway, "refund", refuse)
    refused = await _run(gql, REFUND, {**refund, "amount": 300}, staff)
    owner = (await gql.execute(OWNER_NOTES, token=ada.token))["viewerBilling"]
    seen = (await gql.execute(STAFF_NOTES, {"id": ada.id}, token=staff.token))["node"]

    assert made["creditNote"]["reason"] == refund["reason"]  # staff's own answer
    assert refused["code"] == "REFUND_REFUSED"
    [owners] = owner["invoices"]["edges"]
    assert owners["node"]["creditNotes"] == [
        {"number": 1, "status": "ISSUED", "amount": {"amount": 100}, "reason": None}
    ]
    [staffs] = seen["billing"]["invoices"]["edges"]
    assert [(n["number"], n["status"], n["reason"]) for n in staffs["node"]["creditNotes"]] == [
        (1, "ISSUED", refund["reason"]),
        (None, "FAILED", refund["reason"]),
    ]


async def test_concurrent_new_prices_each_replace_the_one_before(
    gql: GraphQLClient, services: Services
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    price = {"planCode": "plus", "currency": "USD", "interval": "MONTH", "reason": "new pricing"}

    results = await asyncio.gather(
        *(_run(gql, SET_PRICE, {**price, "amount": 600 + i}, staff) for i in range(4))
    )

    assert [r["__typename"] for r in results] == ["PricePayload"] * 4
    async with services.runtime.sessionmaker() as session:
        rows = list(
            await session.scalars(
                select(Price)
                .where(
                    Price.plan_code == "plus", Price.currency == "USD", Price.interval == "month"
                )
                .order_by(Price.id)
            )
        )
    assert [p.active for p in rows] == [False] * 4 + [True]
    entries = [e for e in await audit_entries(services, "billing.price") if e.outcome == "ok"]
    # Serialized: each call replaced a different price, the one the call before it set.
    replaced = sorted(e.before["price_id"] for e in entries if e.before is not None)
    assert replaced == [p.id for p in rows[:4]]


async def test_open_invoices_are_voided_or_marked_uncollectible_and_paid_ones_are_not(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe, settings: Settings
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    invoices = []
    for handle in ("ada", "bob"):
        user = await sign_up(gql, handle)
        await add_card(gql, localstripe, settings, user, DECLINED_ON_CHARGE)
        declined = await subscribe(gql, user)
        assert declined["code"] == "PAYMENT_FAILED"
        billing = (await gql.execute(CUSTOMER, {"id": user.id}, token=staff.token))["node"]
        invoices.append(billing["billing"]["invoices"]["edges"][0]["node"]["id"])
    eve = await sign_up(gql, "eve")
    paid = (await subscribed(gql, localstripe, settings, eve))["latestInvoice"]["id"]

    voided = await _run(gql, VOID, {"invoiceId": invoices[0], "reason": "issued by mistake"}, staff)
    given_up = await _run(
        gql, UNCOLLECTIBLE, {"invoiceId": invoices[1], "reason": "customer unreachable"}, staff
    )
    twice = await _run(gql, VOID, {"invoiceId": invoices[0], "reason": "again"}, staff)
    not_open = await _run(gql, VOID, {"invoiceId": paid, "reason": "wrong one"}, staff)
    no_reason = await _run(gql, UNCOLLECTIBLE, {"invoiceId": paid, "reason": " "}, staff)

    assert voided["invoice"]["status"] == "VOID" and voided["invoice"]["voidedAt"]
    assert given_up["invoice"]["status"] == "UNCOLLECTIBLE"
    assert (twice["code"], not_open["code"]) == ("INVALID_INVOICE_STATE", "INVALID_INVOICE_STATE")
    assert no_reason["code"] == "REASON_REQUIRED"
    actions = [(e.action, e.outcome) for e in await audit_entries(services, "billing.invoice")]
    assert actions[:2] == [
        ("billing.invoice.void", "ok"),
        ("billing.invoice.mark_uncollectible", "ok"),
    ]


async def test_usage_is_recorded_once_per_event_and_shows_on_the_upcoming_invoice(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe, settings: Settings
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    ada = await sign_up(gql, "ada")
    subscription = await subscribed(gql, localstripe, settings, ada)
    event = {
        "eventId": "api-batch-1",
        "accountId": ada.id,
        "meter": "api_calls",
        "quantity": 15_000,
        "occurredAt": subscription["currentPeriodStart"],
    }

    first = await _run(gql, USAGE, event, staff)
    repeat = await _run(gql, USAGE, event, staff)
    conflict = await _run(gql, USAGE, {**event, "quantity": 1}, staff)
    unknown_meter = await _run(gql, USAGE, {**event, "eventId": "e2", "meter": "sms"}, staff)
    upcoming = (await gql.execute(UPCOMING, token=ada.token))["viewerBilling"]["upcomingInvoice"]

    assert first == {"__typename": "UsagePayload", "eventId": "api-batch-1", "quantity": 15_000}
    assert repeat == first
    assert (conflict["code"], conflict["field"]) == ("USAGE_EVENT_CONFLICT", "eventId")
    assert (unknown_meter["code"], unknown_meter["field"]) == ("UNKNOWN_METER", "meter")
    # 15,000 calls, 10,000 included on Plus: 5,000 at 20 cents per 1,000; then the period.
    assert [(line["kind"], line["amount"]["amount"]) for line in upcoming["lines"]] == [
        ("usage", 100),
        ("subscription", 500),
    ]
    recorded = [e for e in await audit_entries(services, "billing.usage") if e.outcome == "ok"]
    assert len(recorded) == 1


async def test_without_billing_admin_the_back_office_is_forbidden(
    gql: GraphQLClient, services: Services
) -> None:
    support = await make_staff(gql, services, "support", "SUPPORT")
    user = await sign_up(gql, "plain")
    invoice = {"invoiceId": "SW52b2ljZTox", "reason": "because"}
    calls = [
        (CUSTOMER, {"id": user.id}),
        (REFUND, {"input": invoice}),
        (VOID, {"input": invoice}),
        (UNCOLLECTIBLE, {"input": invoice}),
        (
            SET_PRICE,
            {
                "input": {
                    "planCode": "plus",
                    "currency": "USD",
                    "interval": "MONTH",
                    "amount": 1,
                    "reason": "because",
                }
            },
        ),
        (
            USAGE,
            {
                "input": {
                    "eventId": "e",
                    "accountId": user.id,
                    "meter": "api_calls",
                    "quantity": 1,
                    "occurredAt": "2026-01-01T00:00:00Z",
                }
            },
        ),
    ]

    for token in (support.token, user.token):
        for document, variables in calls:
            errors = await gql.errors(document, variables, token=token)
            assert errors[0]["extensions"]["code"] == "FORBIDDEN", document
    for document, variables in calls:
        errors = await gql.errors(document, variables)
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
