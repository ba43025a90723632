"""Subscribing, cancelling and resuming through the API, against a real localstripe."""

from __future__ import annotations

import pytest

from app.settings import Settings
from tests.support.accounts import sign_up
from tests.support.billing import localstripe_settings  # noqa: F401 - `settings`
from tests.support.billing_flows import (
    BILLING,
    DECLINED_ON_CHARGE,
    ERROR,
    add_card,
    subscribe,
    subscribed,
)
from tests.support.graphql import GraphQLClient
from tests.support.stripe import LocalStripe

PLANS = """
{ plans { code name rank entitlements { maxPostLength editWindowSeconds }
          prices(currency: "USD") { currency interval amount { amount currency formatted } } } }
"""
CANCEL = f"""
mutation ($input: SubscriptionTargetInput!) {{
  cancelSubscription(input: $input) {{
    __typename ... on SubscriptionPayload {{ subscription {{ status cancelAtPeriodEnd }} }}
    {ERROR}
  }}
}}
"""
RESUME = CANCEL.replace("cancelSubscription", "resumeSubscription")
OTHER_SUBSCRIPTION = "QmlsbGluZ1N1YnNjcmlwdGlvbjo5OTk5"  # BillingSubscription:9999


async def test_the_catalogue_is_public(gql: GraphQLClient) -> None:
    plans = (await gql.execute(PLANS))["plans"]

    assert [(p["code"], p["rank"]) for p in plans] == [("free", 0), ("plus", 1), ("pro", 2)]
    assert plans[0]["prices"] == []
    assert plans[0]["entitlements"] == {"maxPostLength": 500, "editWindowSeconds": 3600}
    assert plans[2]["entitlements"] == {"maxPostLength": 4000, "editWindowSeconds": None}
    assert plans[1]["prices"] == [
        {
            "currency": "USD",
            "interval": "MONTH",
            "amount": {"amount": 500, "currency": "USD", "formatted": "$5.00"},
        },
        {
            "currency": "USD",
            "interval": "YEAR",
            "amount": {"amount": 5000, "currency": "USD", "formatted": "$50.00"},
        },
    ]


async def test_a_bad_currency_filter_is_bad_user_input(gql: GraphQLClient) -> None:
    errors = await gql.errors('{ plans { prices(currency: "XXX") { id } } }')

    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_before_subscribing_the_viewer_is_on_free(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")

    billing = (await gql.execute(BILLING, token=ada.token))["viewerBilling"]
    anonymous = (await gql.execute("{ viewerBilling { currency } }"))["viewerBilling"]

    assert billing["plan"] == {"code": "free"}
    assert billing["currency"] is None and billing["creditBalance"] is None
    assert billing["subscription"] is None and billing["paymentMethods"] == []
    assert billing["entitlements"]["maxPostLength"] == 500
    assert anonymous is None


async def test_subscribing_issues_and_charges_the_first_invoice(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings
) -> None:
    ada = await sign_up(gql, "ada")

    subscription = await subscribed(gql, localstripe, settings, ada, "pro", country="DE")
    billing = (await gql.execute(BILLING, token=ada.token))["viewerBilling"]

    invoice = subscription["latestInvoice"]
    assert subscription["plan"] == {"code": "pro"}
    assert invoice["status"] == "PAID" and invoice["number"] == 1
    assert invoice["reason"] == "subscription_create"
    assert invoice["subtotal"]["amount"] == 1500
    assert invoice["taxRateBasisPoints"] == 1900 and invoice["tax"]["amount"] == 285
    assert invoice["total"]["amount"] == invoice["amountPaid"]["amount"] == 1785
    assert billing["plan"] == {"code": "pro"} and billing["currency"] == "USD"
    assert billing["entitlements"]["maxPostLength"] == 4000
    assert [e["node"] for e in billing["invoices"]["edges"]] == [invoice]


async def test_without_a_payment_method_subscribing_is_refused(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")

    result = await subscribe(gql, ada)

    assert result["__typename"] == "ConflictError"
    assert (result["code"], result["field"]) == ("NO_PAYMENT_METHOD", None)


async def test_a_declined_charge_leaves_it_incomplete_and_a_new_card_completes_it(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings
) -> None:
    ada = await sign_up(gql, "ada")
    await add_card(gql, localstripe, settings, ada, DECLINED_ON_CHARGE)

    declined = await subscribe(gql, ada)
    incomplete = (await gql.execute(BILLING, token=ada.token))["viewerBilling"]
    restored = await add_card(gql, localstripe, settings, ada, make_default=True)
    after = (await gql.execute(BILLING, token=ada.token))["viewerBilling"]

    assert declined["__typename"] == "PaymentError" and declined["code"] == "PAYMENT_FAILED"
    assert incomplete["subscription"]["status"] == "INCOMPLETE"
    assert incomplete["subscription"]["latestInvoice"]["status"] == "OPEN"
    assert incomplete["plan"] == {"code": "free"}
    assert restored["billing"]["subscription"] == {"status": "ACTIVE"}
    assert after["plan"] == {"code": "plus"}
    assert after["subscription"]["latestInvoice"]["status"] == "PAID"


@pytest.mark.parametrize(
    ("extra", "typename", "code", "field"),
    [
        # The mapping, one per result type; every rule on the input is tested in
        # tests/domain/test_billing_subscriptions.py.
        ({"planCode": "gold"}, "NotFoundError", "UNKNOWN_PLAN", "planCode"),
        ({"currency": "XXX"}, "ValidationError", "UNSUPPORTED_CURRENCY", "currency"),
    ],
)
async def test_bad_subscribe_input_is_a_user_error(
    gql: GraphQLClient,
    localstripe: LocalStripe,
    settings: Settings,
    extra: dict[str, str],
    typename: str,
    code: str,
    field: str,
) -> None:
    ada = await sign_up(gql, "ada")
    await add_card(gql, localstripe, settings, ada)

    result = await subscribe(gql, ada, **extra)

    assert (result["__typename"], result["code"], result["field"]) == (typename, code, field)


async def test_cancel_at_period_end_and_resume(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings
) -> None:
    ada = await sign_up(gql, "ada")
    subscription = await subscribed(gql, localstripe, settings, ada)
    target = {"input": {"subscriptionId": subscription["id"]}}

    canceled = (await gql.execute(CANCEL, target, token=ada.token))["cancelSubscription"]
    twice = (await gql.execute(CANCEL, target, token=ada.token))["cancelSubscription"]
    resumed = (await gql.execute(RESUME, target, token=ada.token))["resumeSubscription"]

    assert canceled["subscription"] == {"status": "ACTIVE", "cancelAtPeriodEnd": True}
    assert twice == canceled
    assert resumed["subscription"] == {"status": "ACTIVE", "cancelAtPeriodEnd": False}


async def test_cancelling_another_or_no_subscription_is_refused(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings
) -> None:
    ada = await sign_up(gql, "ada")
    nobody = await sign_up(gql, "nobody")
    await subscribed(gql, localstripe, settings, ada)
    other = {"input": {"subscriptionId": OTHER_SUBSCRIPTION}}

    wrong = (await gql.execute(CANCEL, other, token=ada.token))["cancelSubscription"]
    none = (await gql.execute(CANCEL, other, token=nobody.token))["cancelSubscription"]
    malformed = (await gql.execute(CANCEL, {"input": {"subscriptionId": "x"}}, token=ada.token))[
        "cancelSubscription"
    ]
    after = (await gql.execute(BILLING, token=ada.token))["viewerBilling"]["subscription"]

    assert (wrong["code"], wrong["field"]) == ("NOT_SUBSCRIBED", "subscriptionId")
    assert none["code"] == "NOT_SUBSCRIBED"
    assert (malformed["__typename"], malformed["code"]) == ("ValidationError", "INVALID_ID")
    assert after["cancelAtPeriodEnd"] is False


async def test_billing_mutations_need_a_signed_in_viewer(gql: GraphQLClient) -> None:
    errors = await gql.errors(CANCEL, {"input": {"subscriptionId": OTHER_SUBSCRIPTION}})

    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


SECRET = """
{ viewerBilling { subscription { status latestInvoice { status paymentClientSecret } } } }
"""


async def test_a_card_that_needs_3d_secure_gets_a_client_secret_for_stripe_js(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings
) -> None:
    ada = await sign_up(gql, "ada")
    bob = await sign_up(gql, "bob")
    await add_card(gql, localstripe, settings, ada, "4000002500003155")

    waiting = await subscribe(gql, ada)
    mine = (await gql.execute(SECRET, token=ada.token))["viewerBilling"]["subscription"]
    theirs = (await gql.execute(SECRET, token=bob.token))["viewerBilling"]["subscription"]

    assert waiting["__typename"] == "SubscriptionPayload", waiting
    assert mine["status"] == "INCOMPLETE"
    assert mine["latestInvoice"]["status"] == "OPEN"
    assert mine["latestInvoice"]["paymentClientSecret"].startswith("pi_")
    assert "_secret_" in mine["latestInvoice"]["paymentClientSecret"]
    assert theirs is None
