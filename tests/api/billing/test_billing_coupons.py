"""Coupons and promotion codes: billing staff create them (audited), customers redeem a code
once at `subscribe`; every bad code is a stable UserError."""

from __future__ import annotations

from typing import Any

import pytest

from app.runtime import Services
from app.seed import DEMO_PROMOTION_CODE as DEMO
from app.seed import seed_if_empty
from app.settings import Settings
from tests.support.accounts import User, sign_up
from tests.support.billing import localstripe_settings  # noqa: F401 - `settings`
from tests.support.billing_flows import ERROR, add_card, subscribe
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff
from tests.support.stripe import LocalStripe
from tests.support.webhooks import audit_entries

CREATE_COUPON = f"""
mutation ($input: CreateCouponInput!) {{
  createCoupon(input: $input) {{
    __typename
    ... on CouponPayload {{ coupon {{ id name percentOff amountsOff {{ amount currency }}
                                      duration durationMonths planCodes timesRedeemed }} }}
    {ERROR}
  }}
}}
"""
CREATE_CODE = f"""
mutation ($input: CreatePromotionCodeInput!) {{
  createPromotionCode(input: $input) {{
    __typename
    ... on PromotionCodePayload {{ promotionCode {{ id code maxRedemptions coupon {{ id }} }} }}
    {ERROR}
  }}
}}
"""
PAST = "2020-01-01T00:00:00Z"


async def _coupon(gql: GraphQLClient, staff: User, **fields: Any) -> dict[str, Any]:
    values = {"name": "Launch", "percentOff": 50, "duration": "ONCE", "reason": "launch promo"}
    values.update(fields)
    result: dict[str, Any] = (
        await gql.execute(CREATE_COUPON, {"input": values}, token=staff.token)
    )["createCoupon"]
    return result


async def _code(
    gql: GraphQLClient, staff: User, coupon_id: str, code: str, **fields: Any
) -> dict[str, Any]:
    values = {"couponId": coupon_id, "code": code, "reason": "launch promo", **fields}
    result: dict[str, Any] = (await gql.execute(CREATE_CODE, {"input": values}, token=staff.token))[
        "createPromotionCode"
    ]
    return result


async def _customer(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings, handle: str
) -> User:
    user = await sign_up(gql, handle)
    await add_card(gql, localstripe, settings, user)
    return user


async def test_a_promotion_code_discounts_the_first_invoice(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe, settings: Settings
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    ada = await _customer(gql, localstripe, settings, "ada")
    coupon = (await _coupon(gql, staff, planCodes=["pro"]))["coupon"]
    code = (await _code(gql, staff, coupon["id"], "launch-50"))["promotionCode"]

    result = await subscribe(gql, ada, "pro", promotionCode="Launch-50")

    invoice = result["subscription"]["latestInvoice"]
    assert code["code"] == "LAUNCH-50" and code["coupon"] == {"id": coupon["id"]}
    assert coupon["planCodes"] == ["pro"] and coupon["timesRedeemed"] == 0
    assert invoice["subtotal"]["amount"] == 1500
    assert invoice["discount"]["amount"] == 750
    assert invoice["total"]["amount"] == invoice["amountPaid"]["amount"] == 750
    entries = await audit_entries(services, "billing.")
    assert [(e.action, e.reason) for e in entries] == [
        ("billing.coupon.create", "launch promo"),
        ("billing.promotion_code.create", "launch promo"),
    ]


async def test_a_fixed_amount_coupon_takes_its_currency_off(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe, settings: Settings
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    ada = await _customer(gql, localstripe, settings, "ada")
    eve = await _customer(gql, localstripe, settings, "eve")
    coupon = (
        await _coupon(gql, staff, percentOff=None, amountsOff=[{"amount": 200, "currency": "EUR"}])
    )["coupon"]
    await _code(gql, staff, coupon["id"], "EUROS")

    in_dollars = await subscribe(gql, ada, promotionCode="EUROS")
    in_euros = await subscribe(gql, eve, promotionCode="euros", currency="EUR")

    assert coupon["amountsOff"] == [{"amount": 200, "currency": "EUR"}]
    assert (in_dollars["code"], in_dollars["field"]) == ("COUPON_NOT_APPLICABLE", "promotionCode")
    assert in_euros["subscription"]["latestInvoice"]["discount"] == {
        "amount": 200,
        "currency": "EUR",
    }


def _off(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"percentOff": 0}, "INVALID_AMOUNT", "percentOff"),
        ({"percentOff": 101}, "INVALID_AMOUNT", "percentOff"),
        ({"amountsOff": [{"amount": 100, "currency": "USD"}]}, "INVALID_AMOUNT", "percentOff"),
        (
            {"percentOff": None, "amountsOff": [{"amount": 100, "currency": "XYZ"}]},
            "UNSUPPORTED_CURRENCY",
            "amountsOff",
        ),
        ({"duration": "REPEATING"}, "INVALID_AMOUNT", "durationMonths"),
        ({"planCodes": ["gold"]}, "UNKNOWN_PLAN", "planCodes"),
        ({"name": ""}, "INVALID_AMOUNT", "name"),
        ({"reason": ""}, "REASON_REQUIRED", "reason"),
        # One amount per currency, whatever its letter case: never one silently dropped.
        (
            {"percentOff": None, "amountsOff": [_off(100, "usd"), _off(900, "USD")]},
            "INVALID_AMOUNT",
            "amountsOff",
        ),
        (
            {"percentOff": None, "amountsOff": [_off(100, "EUR"), _off(100, "EUR")]},
            "INVALID_AMOUNT",
            "amountsOff",
        ),
        # A time needs a UTC offset, and must stay within the years 1 to 9999 in UTC.
        ({"redeemBy": "2030-01-01T00:00:00"}, "INVALID_INPUT", "redeemBy"),
        ({"redeemBy": "9999-12-31T23:00:00-12:00"}, "INVALID_INPUT", "redeemBy"),
    ],
)
async def test_bad_coupon_input_is_a_user_error(
    gql: GraphQLClient, services: Services, fields: dict[str, Any], code: str, field: str
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")

    result = await _coupon(gql, staff, **fields)

    assert (result["code"], result["field"]) == (code, field)
    [entry] = await audit_entries(services, "billing.")
    assert entry.outcome == f"refused:{code}"


async def test_bad_promotion_code_input_is_a_user_error(
    gql: GraphQLClient, services: Services
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    coupon = (await _coupon(gql, staff))["coupon"]
    await _code(gql, staff, coupon["id"], "TAKEN")

    taken = await _code(gql, staff, coupon["id"], "taken")
    malformed = await _code(gql, staff, coupon["id"], "no spaces!")
    no_coupon = await _code(gql, staff, "Q291cG9uOjk5OTk=", "FINE")
    bad_id = await _code(gql, staff, "nope", "FINE")

    assert (taken["__typename"], taken["code"]) == ("ConflictError", "CONFLICT")
    assert malformed["code"] == "UNKNOWN_COUPON"
    assert (no_coupon["code"], no_coupon["field"]) == ("UNKNOWN_COUPON", "couponId")
    assert (bad_id["code"], bad_id["field"]) == ("INVALID_ID", "couponId")


@pytest.mark.parametrize("when", ["2030-01-01T00:00:00", "9999-12-31T23:00:00-12:00"])
async def test_a_code_expiry_without_offset_or_out_of_range_is_a_user_error(
    gql: GraphQLClient, services: Services, when: str
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    coupon = (await _coupon(gql, staff))["coupon"]

    result = await _code(gql, staff, coupon["id"], "DATED", expiresAt=when)

    assert (result["__typename"], result["code"]) == ("ValidationError", "INVALID_INPUT")
    assert result["field"] == "expiresAt"
    [entry] = await audit_entries(services, "billing.promotion_code")
    assert entry.outcome == "refused:INVALID_INPUT"


async def test_a_promotion_code_is_ascii_only_when_created_and_when_typed(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe, settings: Settings
) -> None:
    staff = await make_staff(gql, services, "billing", "BILLING_ADMIN")
    coupon = (await _coupon(gql, staff))["coupon"]
    await _code(gql, staff, coupon["id"], "123")
    ada = await _customer(gql, localstripe, settings, "ada")

    arabic_digits = await _code(gql, staff, coupon["id"], "\u0661\u0662\u0663")
    typed = await subscribe(gql, ada, promotionCode="\u0661\u0662\u0663")

    assert (arabic_digits["code"], arabic_digits["field"]) == ("UNKNOWN_COUPON", "promotionCode")
    assert (typed["code"], typed["field"]) == ("UNKNOWN_COUPON", "promotionCode")


async def test_without_billing_admin_coupons_are_forbidden(
    gql: GraphQLClient, services: Services
) -> None:
    support = await make_staff(gql, services, "support", "SUPPORT")
    user = await sign_up(gql, "plain")
    coupon = {"name": "x", "percentOff": 10, "duration": "ONCE", "reason": "because"}
    code = {"couponId": "Q291cG9uOjE=", "code": "X", "reason": "because"}

    for token in (support.token, user.token):
        for document, values in ((CREATE_COUPON, coupon), (CREATE_CODE, code)):
            errors = await gql.errors(document, {"input": values}, token=token)
            assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert [e.action for e in await audit_entries(services, "billing.")] == []


async def test_the_seeded_demo_code_subscribes_as_docs_billing_shows(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe, settings: Settings
) -> None:
    """`make run` seeds LAUNCH-50, so docs/billing.md's subscribe example works locally."""
    assert await seed_if_empty(services)
    eve = await _customer(gql, localstripe, settings, "eve")

    result = await subscribe(gql, eve, "plus", currency="EUR", country="DE", promotionCode=DEMO)

    invoice = result["subscription"]["latestInvoice"]
    assert result["subscription"]["status"] == "ACTIVE", result
    assert invoice["discount"]["amount"] * 2 == invoice["subtotal"]["amount"] > 0
