"""Payment methods: added with a Stripe.js id, listed, made default, removed; bad ids are
user errors, never 500s."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from app.runtime import Services
from app.settings import Settings
from models.billing.tables import BillingCustomer
from resolvers.paging import parse_global_id
from tests.support.accounts import sign_up
from tests.support.billing import localstripe_settings  # noqa: F401 - `settings`
from tests.support.billing_flows import ADD_CARD, BILLING, ERROR, add_card
from tests.support.graphql import GraphQLClient
from tests.support.stripe import LocalStripe

TARGET = f"""
mutation ($input: PaymentMethodTargetInput!) {{
  setDefaultPaymentMethod(input: $input) {{
    __typename ... on PaymentMethodPayload {{ paymentMethod {{ id isDefault }} }}
    {ERROR}
  }}
}}
"""
REMOVE = TARGET.replace("setDefaultPaymentMethod", "removePaymentMethod")
UNKNOWN_METHOD = "UGF5bWVudE1ldGhvZDo5OTk5"  # PaymentMethod:9999


async def test_cards_are_added_made_default_and_removed(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings
) -> None:
    ada = await sign_up(gql, "ada")

    first = (await add_card(gql, localstripe, settings, ada))["paymentMethod"]
    second = (await add_card(gql, localstripe, settings, ada))["paymentMethod"]
    made = (
        await gql.execute(TARGET, {"input": {"paymentMethodId": second["id"]}}, token=ada.token)
    )["setDefaultPaymentMethod"]
    removed = (
        await gql.execute(REMOVE, {"input": {"paymentMethodId": first["id"]}}, token=ada.token)
    )["removePaymentMethod"]
    listed = (await gql.execute(BILLING, token=ada.token))["viewerBilling"]["paymentMethods"]

    assert first["isDefault"] is True and second["isDefault"] is False  # the first is default
    assert (first["brand"], first["last4"], first["expMonth"]) == ("visa", "4242", 12)
    assert made["paymentMethod"] == {"id": second["id"], "isDefault": True}
    assert removed["paymentMethod"] == {"id": first["id"], "isDefault": False}
    assert listed == [{"id": second["id"], "last4": "4242", "isDefault": True}]


@pytest.mark.parametrize(
    ("pm", "typename", "code"),
    [
        ("pm_unknown_to_stripe", "PaymentError", "PAYMENT_METHOD_DECLINED"),
        ("card_4242", "ValidationError", "INVALID_INPUT"),
        ("pm_" + "x" * 70, "ValidationError", "INVALID_INPUT"),
        ("", "ValidationError", "INVALID_INPUT"),
    ],
)
async def test_an_unknown_payment_method_is_declined_and_a_malformed_id_is_invalid(
    gql: GraphQLClient, pm: str, typename: str, code: str
) -> None:
    ada = await sign_up(gql, "ada")

    result = (await gql.execute(ADD_CARD, {"input": {"paymentMethodId": pm}}, token=ada.token))[
        "addPaymentMethod"
    ]

    assert (result["__typename"], result["code"], result["field"]) == (
        typename,
        code,
        "paymentMethodId",
    )


async def test_someone_elses_payment_method_is_not_found_or_declined(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings
) -> None:
    ada = await sign_up(gql, "ada")
    eve = await sign_up(gql, "eve")
    card = (await add_card(gql, localstripe, settings, ada))["paymentMethod"]

    made = (await gql.execute(TARGET, {"input": {"paymentMethodId": card["id"]}}, token=eve.token))[
        "setDefaultPaymentMethod"
    ]
    removed = (
        await gql.execute(REMOVE, {"input": {"paymentMethodId": card["id"]}}, token=eve.token)
    )["removePaymentMethod"]
    unknown = (
        await gql.execute(REMOVE, {"input": {"paymentMethodId": UNKNOWN_METHOD}}, token=ada.token)
    )["removePaymentMethod"]
    malformed = (
        await gql.execute(TARGET, {"input": {"paymentMethodId": "nope"}}, token=ada.token)
    )["setDefaultPaymentMethod"]
    still = (await gql.execute(BILLING, token=ada.token))["viewerBilling"]["paymentMethods"]

    assert (made["__typename"], made["code"]) == ("NotFoundError", "NOT_FOUND")
    assert (removed["__typename"], removed["code"]) == ("NotFoundError", "NOT_FOUND")
    assert unknown["code"] == "NOT_FOUND"
    assert (malformed["code"], malformed["field"]) == ("INVALID_ID", "paymentMethodId")
    assert still == [{"id": card["id"], "last4": "4242", "isDefault": True}]


async def test_a_customer_localstripe_forgot_is_made_again_in_development(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings, services: Services
) -> None:
    """`make run` restarted: localstripe starts empty while the database keeps the old
    customer id. Outside production the customer is made again and the card attached."""
    ada = await sign_up(gql, "ada")
    await add_card(gql, localstripe, settings, ada)
    _, ada_id = parse_global_id(ada.id, expect="Account", field="id")
    async with services.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(BillingCustomer)
            .where(BillingCustomer.account_id == ada_id)
            .values(stripe_customer_id="cus_forgotten")
        )

    card = (await add_card(gql, localstripe, settings, ada))["paymentMethod"]

    async with services.runtime.sessionmaker() as session:
        made = await session.scalar(
            select(BillingCustomer.stripe_customer_id).where(BillingCustomer.account_id == ada_id)
        )
    listed = (await gql.execute(BILLING, token=ada.token))["viewerBilling"]["paymentMethods"]
    stripe = localstripe.client(settings)
    assert made is not None and made.startswith("cus_") and made != "cus_forgotten"
    assert (await stripe.v1.customers.retrieve_async(made)).id == made
    assert listed == [{"id": card["id"], "last4": "4242", "isDefault": True}]
