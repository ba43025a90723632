"""Arranging billing through the public API against the session's localstripe: cards made
as Stripe.js would make them, subscriptions, and the documents billing tests share."""

from __future__ import annotations

from typing import Any

from app.settings import Settings
from tests.support.accounts import User
from tests.support.graphql import GraphQLClient
from tests.support.stripe import LocalStripe

VISA = "4242424242424242"
DECLINED_ON_CHARGE = "4000000000000341"  # attaches, then every charge is declined

ERROR = "... on UserError { __typename code field message }"
MONEY = "{ amount currency }"
INVOICE = f"""
  id number status reason currency
  subtotal {MONEY} discount {MONEY} tax {MONEY} total {MONEY}
  creditApplied {MONEY} amountDue {MONEY} amountPaid {MONEY} taxRateBasisPoints
  lines {{ kind amount {MONEY} }}
"""
SUBSCRIPTION = f"""
  id status cancelAtPeriodEnd currentPeriodStart currentPeriodEnd pastDueSince
  plan {{ code }} price {{ interval amount {MONEY} }}
  pendingPlanChange {{ effectiveAt price {{ interval plan {{ code }} }} }}
  latestInvoice {{ {INVOICE} }}
"""
ADD_CARD = f"""
mutation ($input: AddPaymentMethodInput!) {{
  addPaymentMethod(input: $input) {{
    __typename
    ... on PaymentMethodPayload {{
      paymentMethod {{ id brand last4 expMonth expYear isDefault }}
      billing {{ subscription {{ status }} }}
    }}
    {ERROR}
  }}
}}
"""
SUBSCRIBE = f"""
mutation ($input: SubscribeInput!) {{
  subscribe(input: $input) {{
    __typename
    ... on SubscriptionPayload {{ subscription {{ {SUBSCRIPTION} }} }}
    {ERROR}
  }}
}}
"""
CHANGE_PLAN = f"""
mutation ($input: ChangePlanInput!) {{
  changePlan(input: $input) {{
    __typename
    ... on ChangePlanPayload {{ subscription {{ {SUBSCRIPTION} }} invoice {{ {INVOICE} }} }}
    {ERROR}
  }}
}}
"""
PREVIEW = f"""
query ($plan: String!, $interval: BillingInterval!) {{
  previewPlanChange(planCode: $plan, interval: $interval) {{
    kind effectiveAt price {{ plan {{ code }} interval }}
    lines {{ kind amount {MONEY} }}
    subtotal {MONEY} discount {MONEY} tax {MONEY} total {MONEY}
    creditApplied {MONEY} amountDueNow {MONEY} creditAddedToBalance {MONEY}
  }}
}}
"""
BILLING = f"""
{{
  viewerBilling {{
    currency creditBalance {MONEY}
    plan {{ code }}
    entitlements {{ maxPostLength editWindowSeconds includedApiCalls meteredBilling }}
    subscription {{ {SUBSCRIPTION} }}
    paymentMethods {{ id last4 isDefault }}
    invoices(first: 10) {{ edges {{ node {{ {INVOICE} }} }} pageInfo {{ hasNextPage }} }}
  }}
}}
"""


async def make_card(localstripe: LocalStripe, settings: Settings, number: str = VISA) -> str:
    """A payment method as Stripe.js creates it in the browser; Chirp only sees its id."""
    client = localstripe.client(settings)
    params: Any = {
        "type": "card",
        "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    }
    method = await client.v1.payment_methods.create_async(params=params)
    return str(method.id)


async def add_card(
    gql: GraphQLClient,
    localstripe: LocalStripe,
    settings: Settings,
    user: User,
    number: str = VISA,
    *,
    make_default: bool = False,
) -> dict[str, Any]:
    pm = await make_card(localstripe, settings, number)
    variables = {"input": {"paymentMethodId": pm, "makeDefault": make_default}}
    result: dict[str, Any] = (await gql.execute(ADD_CARD, variables, token=user.token))[
        "addPaymentMethod"
    ]
    assert result["__typename"] == "PaymentMethodPayload", result
    return result


async def subscribe(
    gql: GraphQLClient, user: User, plan: str = "plus", interval: str = "MONTH", **extra: Any
) -> dict[str, Any]:
    variables = {"input": {"planCode": plan, "interval": interval, "currency": "USD", **extra}}
    result: dict[str, Any] = (await gql.execute(SUBSCRIBE, variables, token=user.token))[
        "subscribe"
    ]
    return result


async def subscribed(
    gql: GraphQLClient,
    localstripe: LocalStripe,
    settings: Settings,
    user: User,
    plan: str = "plus",
    interval: str = "MONTH",
    **extra: Any,
) -> dict[str, Any]:
    """A card, then an active subscription; returns the subscription."""
    await add_card(gql, localstripe, settings, user)
    result = await subscribe(gql, user, plan, interval, **extra)
    assert result["__typename"] == "SubscriptionPayload", result
    subscription: dict[str, Any] = result["subscription"]
    assert subscription["status"] == "ACTIVE", subscription
    return subscription
