"""Changing plan: the preview is exactly the invoice the change then issues; downgrades wait
for the period's end and can be taken back."""

from __future__ import annotations

from typing import Any

import pytest

from app.settings import Settings
from tests.support.accounts import User, sign_up
from tests.support.billing import localstripe_settings  # noqa: F401 - `settings`
from tests.support.billing_flows import BILLING, CHANGE_PLAN, PREVIEW, subscribed
from tests.support.graphql import GraphQLClient
from tests.support.stripe import LocalStripe


async def _change(gql: GraphQLClient, user: User, plan: str, interval: str) -> dict[str, Any]:
    variables = {"input": {"planCode": plan, "interval": interval}}
    result: dict[str, Any] = (await gql.execute(CHANGE_PLAN, variables, token=user.token))[
        "changePlan"
    ]
    return result


async def _preview(gql: GraphQLClient, user: User, plan: str, interval: str) -> dict[str, Any]:
    variables = {"plan": plan, "interval": interval}
    preview: dict[str, Any] = (await gql.execute(PREVIEW, variables, token=user.token))[
        "previewPlanChange"
    ]
    return preview


@pytest.mark.parametrize(("plan", "interval"), [("pro", "MONTH"), ("plus", "YEAR")])
async def test_an_upgrade_bills_what_its_preview_showed(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings, plan: str, interval: str
) -> None:
    ada = await sign_up(gql, "ada")
    await subscribed(gql, localstripe, settings, ada, "plus", "MONTH", country="FR")

    preview = await _preview(gql, ada, plan, interval)
    changed = await _change(gql, ada, plan, interval)

    invoice = changed["invoice"]
    assert preview["kind"] == "UPGRADE"
    assert changed["subscription"]["plan"] == {"code": plan}
    assert changed["subscription"]["price"]["interval"] == interval
    assert invoice["reason"] == "subscription_update" and invoice["status"] == "PAID"
    assert [(line["kind"], line["amount"]) for line in preview["lines"]] == [
        (line["kind"], line["amount"]) for line in invoice["lines"]
    ]
    for key in ("subtotal", "discount", "tax", "total", "creditApplied"):
        assert preview[key] == invoice[key], key
    assert preview["amountDueNow"] == invoice["amountDue"] == invoice["amountPaid"]
    credit, charge = preview["lines"][0]["amount"]["amount"], invoice["subtotal"]["amount"]
    assert credit < 0 and charge > 0
    # Proration counts whole seconds; a second passing between the two calls moves each
    # line by about 1/2,600,000 of its price, so both round to the same minor units.
    assert invoice["tax"]["amount"] == (invoice["subtotal"]["amount"] * 2000 + 5000) // 10000


async def test_a_downgrade_waits_for_the_period_end_and_can_be_undone(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings
) -> None:
    ada = await sign_up(gql, "ada")
    subscription = await subscribed(gql, localstripe, settings, ada, "pro", "MONTH")

    preview = await _preview(gql, ada, "plus", "MONTH")
    downgraded = await _change(gql, ada, "plus", "MONTH")
    billing = (await gql.execute(BILLING, token=ada.token))["viewerBilling"]
    undo_preview = await _preview(gql, ada, "pro", "MONTH")
    undone = await _change(gql, ada, "pro", "MONTH")

    assert preview["kind"] == "DOWNGRADE" and preview["lines"] == []
    assert preview["amountDueNow"]["amount"] == 0
    assert preview["effectiveAt"] == subscription["currentPeriodEnd"]
    assert downgraded["invoice"] is None
    assert downgraded["subscription"]["plan"] == {"code": "pro"}
    assert downgraded["subscription"]["pendingPlanChange"] == {
        "effectiveAt": subscription["currentPeriodEnd"],
        "price": {"interval": "MONTH", "plan": {"code": "plus"}},
    }
    assert billing["plan"] == {"code": "pro"}  # until the period ends
    assert undo_preview["kind"] == "UNDO_DOWNGRADE"
    assert undone["invoice"] is None and undone["subscription"]["pendingPlanChange"] is None


async def test_the_same_plan_unknown_plan_or_no_subscription_is_refused(
    gql: GraphQLClient, localstripe: LocalStripe, settings: Settings
) -> None:
    ada = await sign_up(gql, "ada")
    nobody = await sign_up(gql, "nobody")
    await subscribed(gql, localstripe, settings, ada)

    same = await _change(gql, ada, "plus", "MONTH")
    unknown = await _change(gql, ada, "gold", "MONTH")
    none = await _change(gql, nobody, "pro", "MONTH")
    preview_errors = await gql.errors(
        PREVIEW, {"plan": "plus", "interval": "MONTH"}, token=ada.token
    )
    anonymous = await gql.errors(PREVIEW, {"plan": "pro", "interval": "MONTH"})

    assert (same["__typename"], same["code"]) == ("ConflictError", "SAME_PLAN")
    assert (unknown["__typename"], unknown["code"]) == ("NotFoundError", "UNKNOWN_PLAN")
    assert (none["__typename"], none["code"]) == ("ConflictError", "NOT_SUBSCRIBED")
    assert preview_errors[0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "argument": "planCode",
        "reason": "SAME_PLAN",
    }
    assert anonymous[0]["extensions"]["code"] == "UNAUTHENTICATED"
