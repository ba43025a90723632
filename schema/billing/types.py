"""Billing's building blocks in the graph: money, the catalogue (plans, prices and what they
entitle to) and payment methods."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, NewType

import strawberry
from graphql import GraphQLError, IntValueNode, ValueNode, print_ast

from models.billing import catalogue, money
from models.billing.catalogue import Entitlements as EntitlementRow
from models.billing.tables import MONTH, YEAR
from models.billing.tables import PaymentMethod as PaymentMethodRow
from models.billing.tables import Price as PriceRow
from resolvers import billing as resolvers
from resolvers.context import Info
from resolvers.paging import global_id
from schema.core.checks import checked, currency


def _minor_units(value: Any) -> int:
    # bool is an int in Python; a JSON `true` is not an amount.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("An amount is a whole number of minor units.")
    if abs(value) > money.MAX_AMOUNT:
        raise ValueError(f"An amount is at most {money.MAX_AMOUNT} minor units.")
    return value


def _minor_units_literal(node: ValueNode, _variables: Any = None) -> int:
    # graphql-core reports any other exception raised here as an unexpected error (masked as
    # INTERNAL_SERVER_ERROR); a GraphQLError is a plain validation error, like a variable's.
    try:
        if not isinstance(node, IntValueNode):
            raise ValueError("An amount is a whole number of minor units.")
        return _minor_units(int(node.value))
    except ValueError as exc:
        raise GraphQLError(
            f"Expected value of type 'MinorUnits', but encountered error '{exc}'; "
            f"found: {print_ast(node)}.",
            nodes=node,
        ) from None


# GraphQL's Int is 32-bit (at most 2,147,483,647): too small for every invoice Chirp may
# issue (¥ and large annual totals), and a string would make clients parse numbers. This
# scalar is a JSON integer whose bound (10^12) sits far inside the 2^53 that JavaScript
# numbers hold exactly.
MinorUnits = NewType("MinorUnits", int)
# Registered in the schema's `scalar_map` (schema.build_schema).
MINOR_UNITS = strawberry.scalar(
    name="MinorUnits",
    description="A whole number of a currency's minor units (cents for USD, EUR and GBP; "
    "yen for JPY, which has none), as a JSON integer from -10^12 to 10^12: exact in "
    "JavaScript numbers. Never a float.",
    serialize=_minor_units,
    parse_value=_minor_units,
    parse_literal=_minor_units_literal,
)


@strawberry.type(description="An amount of money: minor units of an ISO 4217 currency.")
class Money:
    amount: MinorUnits = strawberry.field(
        description="The amount in minor units: 1250 USD is $12.50, 700 JPY is ¥700."
    )
    currency: str = strawberry.field(description="The ISO 4217 code: USD, EUR, GBP or JPY.")
    formatted: str = strawberry.field(
        description="For display, in English: `$12.50`, `-€3.00`, `¥1,200`."
    )

    @classmethod
    def of(cls, amount: int, currency: str) -> Money:
        return cls(
            amount=MinorUnits(amount),
            currency=currency,
            formatted=money.format_money(amount, currency),
        )


@strawberry.enum(description="How often a price is billed.")
class BillingInterval(Enum):
    MONTH = strawberry.enum_value(MONTH, description="Every month, on the subscription's day.")
    YEAR = strawberry.enum_value(YEAR, description="Every year, on the subscription's day.")


@strawberry.type(description="What a plan unlocks. Chirp enforces these itself.")
class Entitlements:
    max_post_length: int = strawberry.field(
        description="The longest post or reply, in characters: Free 500, Plus 1000, Pro 4000."
    )
    edit_window_seconds: int | None = strawberry.field(
        description="How long after posting a post can be edited, in seconds (Free 3600, "
        "Plus 86400); null when posts stay editable (Pro)."
    )
    included_api_calls: int = strawberry.field(
        description="API calls included each month of service before metered pricing "
        "applies (an annual plan includes them every month: twelve times a year)."
    )
    metered_billing: bool = strawberry.field(
        description="Whether API calls above the included ones are billed (in arrears)."
    )

    @classmethod
    def of(cls, row: EntitlementRow) -> Entitlements:
        window = row.edit_window
        return cls(
            max_post_length=row.max_post_length,
            edit_window_seconds=None if window is None else int(window.total_seconds()),
            included_api_calls=row.included_api_calls,
            metered_billing=row.metered_billing,
        )


@strawberry.type(description="A plan of the catalogue: Free, Plus or Pro.")
class Plan:
    code: str = strawberry.field(
        description="The plan's code: `free`, `plus` or `pro` (lower case). `subscribe` and "
        "`changePlan` take the paid ones; Free is what an account has without a "
        "subscription (`cancelSubscription` goes back to it)."
    )
    name: str = strawberry.field(description="The plan's name for display.")
    rank: int = strawberry.field(
        description="Its place in the catalogue: a higher rank is an upgrade (Free is 0)."
    )
    entitlements: Entitlements = strawberry.field(description="What the plan unlocks.")

    @classmethod
    def of(cls, code: str) -> Plan:
        plan = catalogue.PLANS[code]
        return cls(
            code=plan.code,
            name=plan.name,
            rank=plan.rank,
            entitlements=Entitlements.of(plan.entitlements),
        )

    @strawberry.field(
        description="The prices it is sold at now, one per currency and interval (at most 8), "
        "by currency then interval; only those in `currency` when given. Empty for Free."
    )
    async def prices(
        self,
        info: Info,
        currency: Annotated[
            str | None,
            strawberry.argument(
                description="An ISO 4217 code to keep only that currency's.",
                metadata=checked(currency),
            ),
        ] = None,
    ) -> list[Price]:
        rows = await resolvers.active_prices(info.context, plan_code=self.code, currency=currency)
        return [Price.from_row(r) for r in rows]


@strawberry.type(
    description="What a plan costs per interval in one currency. A price never changes: "
    "billing staff replace it with a new one, and subscribers keep theirs until they change "
    "plan."
)
class Price:
    id: strawberry.ID = strawberry.field(description="The price's global id.")
    currency: str = strawberry.field(description="The ISO 4217 code.")
    interval: BillingInterval = strawberry.field(description="How often it is billed.")
    amount: Money = strawberry.field(description="What each interval costs, before tax.")
    active: bool = strawberry.field(
        description="Whether it is sold now; false once a newer price replaced it."
    )
    plan_code: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: PriceRow) -> Price:
        return cls(
            id=strawberry.ID(global_id("Price", row.id)),
            currency=row.currency,
            interval=BillingInterval(row.interval),
            amount=Money.of(row.amount, row.currency),
            active=row.active,
            plan_code=row.plan_code,
        )

    @strawberry.field(description="The plan this price is for.")
    def plan(self) -> Plan:
        return Plan.of(self.plan_code)


@strawberry.type(
    description="A card the customer added with Stripe.js. Chirp keeps only what can be "
    "shown; the card number never reaches Chirp."
)
class PaymentMethod:
    id: strawberry.ID = strawberry.field(
        description="The payment method's global id, as `setDefaultPaymentMethod` and "
        "`removePaymentMethod` take it."
    )
    brand: str = strawberry.field(description="The card brand (`visa`, `mastercard`...).")
    last4: str = strawberry.field(description="The card number's last four digits.")
    exp_month: int = strawberry.field(description="The expiry month, 1 to 12.")
    exp_year: int = strawberry.field(description="The expiry year, four digits.")
    is_default: bool = strawberry.field(
        description="Whether it is the one charged for invoices (exactly one is, once any "
        "exists, unless the default was removed)."
    )
    created_at: datetime = strawberry.field(description="When it was added (UTC).")

    @classmethod
    def from_row(cls, row: PaymentMethodRow, *, default_id: int | None) -> PaymentMethod:
        return cls(
            id=strawberry.ID(global_id("PaymentMethod", row.id)),
            brand=row.brand,
            last4=row.last4,
            exp_month=row.exp_month,
            exp_year=row.exp_year,
            is_default=row.id == default_id,
            created_at=row.created_at,
        )
