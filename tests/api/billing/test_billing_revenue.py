"""Revenue figures (ADMIN) on a known data set: MRR with annual prices as twelfths, active
subscribers, 30-day churn and failed-payment rate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from app.runtime import Services
from app.settings import Settings
from models.base import utcnow
from models.billing.tables import Subscription
from tests.support.accounts import sign_up
from tests.support.billing import localstripe_settings  # noqa: F401 - `settings`
from tests.support.billing_flows import DECLINED_ON_CHARGE, add_card, subscribe, subscribed
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff
from tests.support.stripe import LocalStripe

REVENUE = """
query ($currency: String!) {
  revenue(currency: $currency) {
    currency mrr { amount currency } activeSubscribers subscribersAtWindowStart
    canceledInWindow churnRate paymentsInWindow failedPaymentsInWindow failedPaymentRate
  }
}
"""


async def _back_date(services: Services, account_id: str, **values: object) -> None:
    """Move a subscription into the past: the API only ever subscribes now."""
    from resolvers.paging import parse_global_id

    key = parse_global_id(account_id, expect="Account", field="id")[1]
    async with services.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Subscription).where(Subscription.account_id == key).values(**values)
        )


async def test_revenue_figures_on_a_known_data_set(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe, settings: Settings
) -> None:
    admin = await make_staff(gql, services, "admin", "ADMIN")
    monthly, yearly, churned, declined, newcomer = [
        await sign_up(gql, h) for h in ("monthly", "yearly", "churned", "declined", "newcomer")
    ]
    await subscribed(gql, localstripe, settings, monthly, "plus", "MONTH")  # 500 a month
    await subscribed(gql, localstripe, settings, yearly, "pro", "YEAR")  # 15000 a year
    await subscribed(gql, localstripe, settings, churned, "pro", "MONTH")
    await subscribed(gql, localstripe, settings, newcomer, "plus", "MONTH")  # after the start
    await add_card(gql, localstripe, settings, declined, DECLINED_ON_CHARGE)
    assert (await subscribe(gql, declined))["code"] == "PAYMENT_FAILED"  # incomplete
    long_ago = utcnow() - timedelta(days=40)
    for user in (monthly, yearly, churned):
        await _back_date(services, user.id, created_at=long_ago)
    await _back_date(
        services, churned.id, status="canceled", canceled_at=utcnow() - timedelta(days=5)
    )

    usd = (await gql.execute(REVENUE, {"currency": "usd"}, token=admin.token))["revenue"]
    jpy = (await gql.execute(REVENUE, {"currency": "JPY"}, token=admin.token))["revenue"]

    assert usd == {
        "currency": "USD",
        "mrr": {"amount": 500 + 15000 // 12 + 500, "currency": "USD"},
        "activeSubscribers": 3,
        "subscribersAtWindowStart": 3,
        "canceledInWindow": 1,
        "churnRate": pytest.approx(1 / 3),
        "paymentsInWindow": 5,
        "failedPaymentsInWindow": 1,
        "failedPaymentRate": pytest.approx(0.2),
    }
    assert jpy["mrr"] == {"amount": 0, "currency": "JPY"}
    assert jpy["churnRate"] is None and jpy["failedPaymentRate"] is None


async def test_revenue_needs_a_billed_currency_and_admin(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "admin", "ADMIN")
    billing = await make_staff(gql, services, "billing", "BILLING_ADMIN")

    bad = await gql.errors(REVENUE, {"currency": "CHF"}, token=admin.token)
    refused = await gql.errors(REVENUE, {"currency": "USD"}, token=billing.token)

    assert bad[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "currency"}
    assert refused[0]["extensions"]["code"] == "FORBIDDEN"
