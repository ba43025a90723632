"""A customer's billing in the graph: their subscription, invoices, payment methods, credit
and entitlements, and the preview of a plan change."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from functools import partial

import strawberry

from models.billing import tables
from models.billing.plans import ChangeKind
from models.billing.subscriptions import PlanChange
from models.billing.tables import BillingCustomer
from models.billing.tables import Subscription as SubscriptionRow
from resolvers import billing as resolvers
from resolvers.context import Info
from resolvers.paging import global_id
from schema.billing.invoices import DraftInvoice, Invoice, InvoiceConnection, InvoiceLine
from schema.billing.types import Entitlements, Money, PaymentMethod, Plan, Price
from schema.core.paging import After, First


@strawberry.enum(description="Where a subscription stands.")
class SubscriptionStatus(Enum):
    INCOMPLETE = strawberry.enum_value(
        tables.INCOMPLETE,
        description="Its first invoice is not paid yet (declined, or waiting for 3-D Secure: "
        "see `Invoice.paymentClientSecret`); `subscribe` again with the same choice "
        "continues it, with another choice replaces it (see `subscribe`). Free entitlements "
        "meanwhile.",
    )
    ACTIVE = strawberry.enum_value(tables.ACTIVE, description="Paid up: the plan applies.")
    PAST_DUE = strawberry.enum_value(
        tables.PAST_DUE,
        description="A payment failed: it is retried, and the plan applies until "
        "`graceEndsAt`. Updating the payment method pays the open invoices at once.",
    )
    UNPAID = strawberry.enum_value(
        tables.UNPAID,
        description="The grace period ran out: Free entitlements, invoices still open. "
        "Updating the payment method pays them and restores the plan.",
    )
    CANCELED = strawberry.enum_value(tables.CANCELED, description="Ended: Free entitlements.")


@strawberry.enum(description="What a plan change does.")
class PlanChangeKind(Enum):
    UPGRADE = strawberry.enum_value(
        ChangeKind.UPGRADE.value,
        description="A higher plan, or yearly instead of monthly: applies now, with the "
        "unused time of the old price credited and the difference charged at once.",
    )
    DOWNGRADE = strawberry.enum_value(
        ChangeKind.DOWNGRADE.value,
        description="A lower plan, or monthly instead of yearly: applies at the end of the "
        "period; nothing is charged now.",
    )
    UNDO_DOWNGRADE = strawberry.enum_value(
        ChangeKind.UNDO_DOWNGRADE.value,
        description="Back to the current plan: the scheduled downgrade is dropped.",
    )


@strawberry.type(description="A downgrade that takes effect at the end of the period.")
class ScheduledPlanChange:
    price: Price = strawberry.field(description="The price that applies from `effectiveAt`.")
    effective_at: datetime = strawberry.field(description="When it takes effect (UTC).")


@strawberry.type(description="An account's paid plan.")
class BillingSubscription:
    id: strawberry.ID = strawberry.field(
        description="The subscription's global id, as `cancelSubscription` and "
        "`resumeSubscription` take it."
    )
    status: SubscriptionStatus = strawberry.field(description="Where it stands.")
    current_period_start: datetime = strawberry.field(description="The period's start (UTC).")
    current_period_end: datetime = strawberry.field(
        description="The period's end (UTC): the next renewal, or the end when canceling."
    )
    cancel_at_period_end: bool = strawberry.field(
        description="Whether it ends at `currentPeriodEnd` (see `resumeSubscription`)."
    )
    past_due_since: datetime | None = strawberry.field(
        description="When a payment first failed, while past due or unpaid; else null."
    )
    grace_ends_at: datetime | None = strawberry.field(
        description="While past due: when the plan's entitlements stop if still unpaid."
    )
    canceled_at: datetime | None = strawberry.field(description="When it ended, or null.")
    row: strawberry.Private[SubscriptionRow]
    staff_view: strawberry.Private[bool]

    @classmethod
    def from_row(cls, row: SubscriptionRow, *, staff_view: bool = False) -> BillingSubscription:
        return cls(
            id=strawberry.ID(global_id("BillingSubscription", row.id)),
            status=SubscriptionStatus(row.status),
            current_period_start=row.current_period_start,
            current_period_end=row.current_period_end,
            cancel_at_period_end=row.cancel_at_period_end,
            past_due_since=row.past_due_since,
            grace_ends_at=row.grace_ends_at,
            canceled_at=row.canceled_at,
            row=row,
            staff_view=staff_view,
        )

    @strawberry.field(description="The price it is billed at (kept when prices change).")
    async def price(self, info: Info) -> Price:
        found = await resolvers.price(info.context, price_id=self.row.price_id)
        assert found is not None
        return Price.from_row(found)

    @strawberry.field(description="The plan it is for.")
    async def plan(self, info: Info) -> Plan:
        found = await resolvers.price(info.context, price_id=self.row.price_id)
        assert found is not None
        return Plan.of(found.plan_code)

    @strawberry.field(description="A downgrade scheduled for the period's end, or null.")
    async def pending_plan_change(self, info: Info) -> ScheduledPlanChange | None:
        if self.row.pending_price_id is None:
            return None
        found = await resolvers.price(info.context, price_id=self.row.pending_price_id)
        assert found is not None
        return ScheduledPlanChange(
            price=Price.from_row(found), effective_at=self.row.current_period_end
        )

    @strawberry.field(description="Its newest issued invoice, or null.")
    async def latest_invoice(self, info: Info) -> Invoice | None:
        row = await resolvers.latest_invoice(info.context, subscription_id=self.row.id)
        return None if row is None else Invoice.from_row(row, staff_view=self.staff_view)


@strawberry.type(
    description="What changing plan would do now: exactly what `changePlan` does if called "
    "now with the same plan and interval."
)
class PlanChangePreview:
    kind: PlanChangeKind = strawberry.field(description="Upgrade, downgrade or undo.")
    effective_at: datetime = strawberry.field(description="When the change applies (UTC).")
    price: Price = strawberry.field(description="The price that applies after the change.")
    lines: list[InvoiceLine] = strawberry.field(
        description="The lines of the invoice issued now; empty when nothing is billed now."
    )
    subtotal: Money = strawberry.field(description="The lines added up (never negative).")
    discount: Money = strawberry.field(description="Taken off by the customer's coupon.")
    tax: Money = strawberry.field(description="Tax on subtotal - discount.")
    total: Money = strawberry.field(description="subtotal - discount + tax.")
    credit_applied: Money = strawberry.field(description="Paid from the credit balance.")
    amount_due_now: Money = strawberry.field(
        description="What is charged to the default payment method now."
    )
    credit_added_to_balance: Money = strawberry.field(
        description="Unused time worth more than the new charges, added to the credit "
        "balance for the next invoices."
    )

    @classmethod
    def of(cls, change: PlanChange) -> PlanChangePreview:
        currency = change.new_price.currency
        draft = change.draft
        lines = [] if draft is None else [InvoiceLine.from_spec(s, currency) for s in draft.lines]

        def m(amount: int) -> Money:
            return Money.of(amount, currency)

        t = None if draft is None else draft.totals
        return cls(
            kind=PlanChangeKind(change.kind.value),
            effective_at=change.effective_at,
            price=Price.from_row(change.new_price),
            lines=lines,
            subtotal=m(t.subtotal if t else 0),
            discount=m(t.discount if t else 0),
            tax=m(t.tax if t else 0),
            total=m(t.total if t else 0),
            credit_applied=m(t.credit_applied if t else 0),
            amount_due_now=m(t.amount_due if t else 0),
            credit_added_to_balance=m(t.credit_added if t else 0),
        )


@strawberry.type(description="An account's billing: plan, subscription, invoices, cards, credit.")
class Billing:
    account_id: strawberry.Private[int]
    customer: strawberry.Private[BillingCustomer | None]
    # True when billing staff read it through `Account.billing`: they also see what only
    # staff may (credit notes' reasons, refunds under way or refused).
    staff_view: strawberry.Private[bool] = False

    @strawberry.field(
        description="The ISO 4217 code the account is billed in, fixed by its first "
        "subscription; null before that."
    )
    def currency(self) -> str | None:
        return None if self.customer is None else self.customer.currency

    @strawberry.field(
        description="Credit that pays the next invoices first (from downgrades and plan "
        "changes), in the account's currency; null before the first subscription."
    )
    def credit_balance(self) -> Money | None:
        c = self.customer
        if c is None or c.currency is None:
            return None
        return Money.of(c.credit_balance, c.currency)

    @strawberry.field(
        description="The plan whose entitlements apply now: the subscription's while it is "
        "active (or past due within grace), otherwise Free."
    )
    async def plan(self, info: Info) -> Plan:
        current = await resolvers.current_plan(info.context, account_id=self.account_id)
        return Plan.of(current.plan_code)

    @strawberry.field(description="What the account may do now (the entitlements of `plan`).")
    async def entitlements(self, info: Info) -> Entitlements:
        current = await resolvers.current_plan(info.context, account_id=self.account_id)
        return Entitlements.of(current.entitlements)

    @strawberry.field(
        description="The current subscription (not canceled), or else the last canceled one; "
        "null if the account never subscribed."
    )
    async def subscription(self, info: Info) -> BillingSubscription | None:
        row = await resolvers.subscription(info.context, account_id=self.account_id)
        return (
            None if row is None else BillingSubscription.from_row(row, staff_view=self.staff_view)
        )

    @strawberry.field(description="Issued invoices, newest first.")
    async def invoices(self, info: Info, first: First, after: After = None) -> InvoiceConnection:
        page = await resolvers.invoices(
            info.context, account_id=self.account_id, first=first, after=after
        )
        return InvoiceConnection.from_page(
            page, partial(Invoice.from_row, staff_view=self.staff_view)
        )

    @strawberry.field(
        description="Payment methods that can be charged, oldest first: at most 20. "
        "`isDefault` marks the one invoices are charged to."
    )
    async def payment_methods(self, info: Info) -> list[PaymentMethod]:
        rows = await resolvers.payment_methods(info.context, account_id=self.account_id)
        default = None if self.customer is None else self.customer.default_payment_method_id
        return [PaymentMethod.from_row(r, default_id=default) for r in rows]

    @strawberry.field(
        description="The invoice the next renewal will issue, as it stands now (usage so "
        "far, coupon, credit, scheduled downgrade); null without a renewing subscription."
    )
    async def upcoming_invoice(self, info: Info) -> DraftInvoice | None:
        draft = await resolvers.upcoming_invoice(info.context, account_id=self.account_id)
        if draft is None or self.customer is None or self.customer.currency is None:
            return None
        return DraftInvoice.of(draft, self.customer.currency)
