"""A page of invoices, with their lines and credit notes, costs the same number of SQL
statements whatever its size (the billing dataloaders batch them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.runtime import Services
from app.settings import Settings
from models.billing import subscriptions
from models.billing.pricing import shift_months
from models.billing.specs import SubscriptionSpec
from tests.conftest import make_settings
from tests.integration.test_query_counts import counting_statements
from tests.support.backends import Database
from tests.support.billing import billing_of, billing_sweep, card_customer
from tests.support.graphql import GraphQLClient
from tests.support.stripe import LocalStripe

JAN_1 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
INVOICES = """
query Invoices($first: Int!) {
  viewerBilling {
    invoices(first: $first) {
      edges { node { number status total { amount formatted }
        lines { description amount { amount } }
        creditNotes { number amount { amount } } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


@pytest.fixture
def settings(database: Database, localstripe: LocalStripe) -> Settings:
    return make_settings(
        database, stripe_api_base=localstripe.api_base, billing_sweep_interval=3600.0
    )


async def test_an_invoice_page_costs_the_same_statements_for_1_and_6_invoices(
    services: Services, gql: GraphQLClient, localstripe: LocalStripe
) -> None:
    user, account_id = await card_customer(services, gql, localstripe, "ledger")
    await subscriptions.subscribe(
        services.runtime.transactions,
        billing_of(services),
        account_id=account_id,
        spec=SubscriptionSpec("plus", "month", "EUR", "DE", None),
        now=JAN_1,
    )
    for month in range(1, 6):
        await billing_sweep(services, shift_months(JAN_1, month))
    # The viewer's plan, which names its query budget, is read once a minute, not per page.
    await gql.execute(INVOICES, {"first": 1}, token=user.token)

    with counting_statements(services) as one:
        small = await gql.execute(INVOICES, {"first": 1}, token=user.token)
    with counting_statements(services) as six:
        large = await gql.execute(INVOICES, {"first": 6}, token=user.token)

    assert len(small["viewerBilling"]["invoices"]["edges"]) == 1
    assert len(large["viewerBilling"]["invoices"]["edges"]) == 6
    assert all(e["node"]["lines"] for e in large["viewerBilling"]["invoices"]["edges"])
    assert len(one) == len(six), (one, six)
