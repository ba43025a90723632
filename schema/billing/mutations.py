"""The customer's billing mutations: payment methods, subscribing, changing plan, cancelling
and resuming. Each takes `input` and returns its payload or its UserErrors."""

from __future__ import annotations

from typing import Annotated

import strawberry

from models.billing.specs import SubscriptionSpec
from models.billing.tables import PaymentMethod as PaymentMethodRow
from resolvers import billing as resolvers
from resolvers.context import Info
from resolvers.paging import key_of
from schema.billing.account import Billing, BillingSubscription
from schema.billing.invoices import Invoice
from schema.billing.queries import PLAN_CODE, billing_of
from schema.billing.types import BillingInterval, PaymentMethod
from schema.core.errors import (
    INPUT,
    ConflictError,
    NotFoundError,
    PaymentError,
    ServiceUnavailableError,
    ValidationError,
)
from schema.core.permissions import IsAuthenticated
from schema.core.results import mutation, outcome


@strawberry.input(description="A card the frontend created with Stripe.js.")
class AddPaymentMethodInput:
    payment_method_id: str = strawberry.field(
        description="The id Stripe.js returned for the new payment method (`pm_...`, at most "
        "64 characters). Card details never pass through Chirp."
    )
    make_default: bool = strawberry.field(
        default=False,
        description="Charge invoices to it from now on. The first payment method is the "
        "default anyway. A new default pays any open invoices at once.",
    )


@strawberry.input(description="One of the viewer's payment methods.")
class PaymentMethodTargetInput:
    payment_method_id: strawberry.ID = strawberry.field(
        description="The payment method's global id (`PaymentMethod.id`)."
    )


@strawberry.type(description="A payment method after a change, and the billing it affects.")
class PaymentMethodPayload:
    payment_method: PaymentMethod = strawberry.field(description="The payment method.")
    billing: Billing = strawberry.field(
        description="The viewer's billing now: open invoices may have been paid and a past-due "
        "subscription restored."
    )


@strawberry.input(description="Start a paid plan.")
class SubscribeInput:
    plan_code: str = strawberry.field(description=PLAN_CODE)
    interval: BillingInterval = strawberry.field(description="Monthly or yearly billing.")
    currency: str = strawberry.field(
        description="The ISO 4217 code to be billed in: USD, EUR, GBP or JPY. Fixed once "
        "chosen: later subscriptions must use the same (CURRENCY_MISMATCH)."
    )
    country: str | None = strawberry.field(
        default=None,
        description="The customer's country, an ISO 3166-1 alpha-2 code in any case (DE, us...; "
        "anything else is INVALID_COUNTRY): sets the tax rate (docs/billing.md, Tax). Kept "
        "from an earlier subscription when omitted.",
    )
    promotion_code: str | None = strawberry.field(
        default=None,
        description="A promotion code (any letter case; 1 to 40 ASCII letters, digits or -).",
    )

    def to_spec(self) -> SubscriptionSpec:
        return SubscriptionSpec(
            plan_code=self.plan_code,
            interval=str(self.interval.value),
            currency=self.currency,
            country=self.country,
            promotion_code=self.promotion_code or None,
        )


@strawberry.type(description="The subscription after a change.")
class SubscriptionPayload:
    subscription: BillingSubscription = strawberry.field(description="The subscription now.")


@strawberry.input(description="The plan to move to.")
class ChangePlanInput:
    plan_code: str = strawberry.field(description=PLAN_CODE)
    interval: BillingInterval = strawberry.field(description="Monthly or yearly billing.")


@strawberry.type(description="The subscription after a plan change and the invoice it issued.")
class ChangePlanPayload:
    subscription: BillingSubscription = strawberry.field(description="The subscription now.")
    invoice: Invoice | None = strawberry.field(
        description="The invoice issued now (an upgrade); null for a downgrade or an undo, "
        "which bill nothing now. Check `status`: OPEN means the charge failed."
    )


@strawberry.input(description="The viewer's subscription to act on.")
class SubscriptionTargetInput:
    subscription_id: strawberry.ID = strawberry.field(
        description="The subscription's global id (`BillingSubscription.id`): acting on "
        "another one than the current is NOT_SUBSCRIBED."
    )


AddPaymentMethodResult = Annotated[
    PaymentMethodPayload | ValidationError | PaymentError | ServiceUnavailableError,
    outcome("addPaymentMethod"),
]
SetDefaultPaymentMethodResult = Annotated[
    PaymentMethodPayload | ValidationError | NotFoundError | PaymentError | ServiceUnavailableError,
    outcome("setDefaultPaymentMethod"),
]
RemovePaymentMethodResult = Annotated[
    PaymentMethodPayload | ValidationError | NotFoundError, outcome("removePaymentMethod")
]
SubscribeResult = Annotated[
    SubscriptionPayload
    | ValidationError
    | NotFoundError
    | ConflictError
    | PaymentError
    | ServiceUnavailableError,
    outcome("subscribe"),
]
ChangePlanResult = Annotated[
    ChangePlanPayload
    | ValidationError
    | NotFoundError
    | ConflictError
    | PaymentError
    | ServiceUnavailableError,
    outcome("changePlan"),
]
CancelSubscriptionResult = Annotated[
    SubscriptionPayload | ValidationError | ConflictError, outcome("cancelSubscription")
]
ResumeSubscriptionResult = Annotated[
    SubscriptionPayload | ValidationError | ConflictError, outcome("resumeSubscription")
]


async def _method_payload(info: Info, method: PaymentMethodRow) -> PaymentMethodPayload:
    billing = await billing_of(info, info.context.require_viewer().id)
    default = None if billing.customer is None else billing.customer.default_payment_method_id
    return PaymentMethodPayload(
        payment_method=PaymentMethod.from_row(method, default_id=default), billing=billing
    )


@strawberry.type
class BillingMutations:
    @mutation(
        description="Add a card created with Stripe.js (pass its `pm_...` id). A declined or "
        "unknown card is PAYMENT_METHOD_DECLINED. When it becomes the default, open invoices "
        "are paid with it: this is how a past-due or unpaid subscription is restored.",
        permission_classes=[IsAuthenticated],
    )
    async def add_payment_method(
        self, info: Info, input: Annotated[AddPaymentMethodInput, INPUT]
    ) -> AddPaymentMethodResult:
        method = await resolvers.add_payment_method(
            info.context,
            stripe_payment_method_id=input.payment_method_id,
            make_default=input.make_default,
        )
        return await _method_payload(info, method)

    @mutation(
        description="Charge invoices to this payment method from now on; open invoices are "
        "paid with it at once (restoring a past-due or unpaid subscription).",
        permission_classes=[IsAuthenticated],
    )
    async def set_default_payment_method(
        self, info: Info, input: Annotated[PaymentMethodTargetInput, INPUT]
    ) -> SetDefaultPaymentMethodResult:
        method = await resolvers.set_default_payment_method(
            info.context,
            payment_method_id=key_of(input.payment_method_id, "PaymentMethod", "paymentMethodId"),
        )
        return await _method_payload(info, method)

    @mutation(
        description="Stop using a payment method. Removing the default leaves none: renewals "
        "then fail until another is made the default.",
        permission_classes=[IsAuthenticated],
    )
    async def remove_payment_method(
        self, info: Info, input: Annotated[PaymentMethodTargetInput, INPUT]
    ) -> RemovePaymentMethodResult:
        method = await resolvers.remove_payment_method(
            info.context,
            payment_method_id=key_of(input.payment_method_id, "PaymentMethod", "paymentMethodId"),
        )
        return await _method_payload(info, method)

    @mutation(
        description="Subscribe to a paid plan: the first invoice is issued and charged to the "
        "default payment method at once (NO_PAYMENT_METHOD without one). A declined charge is "
        "PAYMENT_FAILED and leaves the subscription INCOMPLETE with that invoice open. While "
        "a subscription is INCOMPLETE, calling `subscribe` again with the same plan, "
        "interval and currency (and no promotionCode) continues it: its open invoice is "
        "charged again to the default payment method of the moment. A different plan, "
        "interval or currency, or a promotionCode, ends the incomplete subscription first "
        "(its invoice voided, its waiting payment canceled, its coupon given back) and "
        "starts the new one; ALREADY_SUBSCRIBED if that earlier payment went through or is "
        "being made at that moment. An INCOMPLETE subscription nobody completes expires 23 "
        "hours after it started. Safe to "
        "retry after PAYMENT_PROCESSOR_UNAVAILABLE: nothing is charged twice.",
        permission_classes=[IsAuthenticated],
    )
    async def subscribe(
        self, info: Info, input: Annotated[SubscribeInput, INPUT]
    ) -> SubscribeResult:
        row = await resolvers.subscribe(info.context, spec=input.to_spec())
        return SubscriptionPayload(subscription=BillingSubscription.from_row(row))

    @mutation(
        description="Change plan or interval. An upgrade applies now: unused time is "
        "credited, the rest of the period is charged at once (see `previewPlanChange`, which "
        "shows exactly this). A downgrade is scheduled for the period's end; choosing the "
        "current plan again drops it.",
        permission_classes=[IsAuthenticated],
    )
    async def change_plan(
        self, info: Info, input: Annotated[ChangePlanInput, INPUT]
    ) -> ChangePlanResult:
        row, invoice = await resolvers.change_plan(
            info.context, plan_code=input.plan_code, interval=str(input.interval.value)
        )
        return ChangePlanPayload(
            subscription=BillingSubscription.from_row(row),
            invoice=None if invoice is None else Invoice.from_row(invoice),
        )

    @mutation(
        description="Cancel at the end of the current period: the plan stays until then and "
        "nothing more is billed. Idempotent; `resumeSubscription` takes it back.",
        permission_classes=[IsAuthenticated],
    )
    async def cancel_subscription(
        self, info: Info, input: Annotated[SubscriptionTargetInput, INPUT]
    ) -> CancelSubscriptionResult:
        return await _set_cancel(info, input, cancel=True)

    @mutation(
        description="Keep a subscription that was set to cancel at the period's end. Idempotent.",
        permission_classes=[IsAuthenticated],
    )
    async def resume_subscription(
        self, info: Info, input: Annotated[SubscriptionTargetInput, INPUT]
    ) -> ResumeSubscriptionResult:
        return await _set_cancel(info, input, cancel=False)


async def _set_cancel(
    info: Info, input: SubscriptionTargetInput, *, cancel: bool
) -> CancelSubscriptionResult:
    row = await resolvers.set_cancel_at_period_end(
        info.context,
        subscription_id=key_of(input.subscription_id, "BillingSubscription", "subscriptionId"),
        cancel=cancel,
    )
    return SubscriptionPayload(subscription=BillingSubscription.from_row(row))
