"""The billing back office's inputs: each staff change's input, and `to_spec()` turning it
into the typed value the back office takes."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.billing.specs import CouponSpec, PlanPriceSpec, PromotionCodeSpec, UsageEvent
from resolvers.paging import parse_global_id
from schema.billing.staff_types import CouponDuration
from schema.billing.types import BillingInterval, MinorUnits

REASON = "Why, for the audit log: 3 to 1000 characters."


@strawberry.input(description="An amount in one currency.")
class MoneyInput:
    amount: MinorUnits = strawberry.field(
        description="Minor units (cents; yen for JPY), from 1 to 10^12."
    )
    currency: str = strawberry.field(description="USD, EUR, GBP or JPY.")


@strawberry.input(description="A new coupon: give `percentOff` or `amountsOff`, not both.")
class CreateCouponInput:
    name: str = strawberry.field(description="Shown on invoices: 1 to 100 characters.")
    percent_off: int | None = strawberry.field(default=None, description="1 to 100.")
    amounts_off: list[MoneyInput] = strawberry.field(
        default_factory=list,
        description="A fixed amount per currency it may be used in (one per currency, at most "
        "4); codes in other currencies are COUPON_NOT_APPLICABLE.",
    )
    duration: CouponDuration = strawberry.field(description="How long the discount lasts.")
    duration_months: int | None = strawberry.field(
        default=None, description="For REPEATING only, and then required: 1 to 120."
    )
    plan_codes: list[str] = strawberry.field(
        default_factory=list,
        description="Paid plans it applies to (`plus`, `pro`); empty for every paid plan.",
    )
    max_redemptions: int | None = strawberry.field(
        default=None, description="How many customers may redeem it in all (at least 1)."
    )
    redeem_by: datetime | None = strawberry.field(
        default=None, description="The last moment it can be redeemed (UTC); null for none."
    )
    first_time_only: bool = strawberry.field(
        default=False, description="Only for accounts that never subscribed before."
    )
    reason: str = strawberry.field(description=REASON)

    def to_spec(self) -> CouponSpec:
        """The coupon to define, as the back office takes it."""
        return CouponSpec(
            name=self.name,
            percent_off=self.percent_off,
            amounts_off=tuple((m.currency, m.amount) for m in self.amounts_off),
            duration=str(self.duration.value),
            duration_months=self.duration_months,
            plan_codes=tuple(self.plan_codes),
            max_redemptions=self.max_redemptions,
            redeem_by=self.redeem_by,
            first_time_only=self.first_time_only,
        )


@strawberry.input(description="A code customers type to redeem a coupon.")
class CreatePromotionCodeInput:
    coupon_id: strawberry.ID = strawberry.field(description="The coupon's global id.")
    code: str = strawberry.field(
        description="1 to 40 letters, digits or -; unique whatever the letter case."
    )
    max_redemptions: int | None = strawberry.field(
        default=None, description="How often this code may be redeemed (at least 1)."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the code stops working (UTC); null for never."
    )
    first_time_only: bool = strawberry.field(
        default=False, description="Only for accounts that never subscribed before."
    )
    reason: str = strawberry.field(description=REASON)

    def to_spec(self) -> PromotionCodeSpec:
        """The code to create; an id that is not a coupon's is INVALID_ID on `couponId`."""
        return PromotionCodeSpec(
            coupon_id=parse_global_id(self.coupon_id, expect="Coupon", field="couponId")[1],
            code=self.code,
            max_redemptions=self.max_redemptions,
            expires_at=self.expires_at,
            first_time_only=self.first_time_only,
        )


@strawberry.input(description="A plan's new price in one currency and interval.")
class SetPlanPriceInput:
    plan_code: str = strawberry.field(description="A paid plan: `plus` or `pro`.")
    currency: str = strawberry.field(description="USD, EUR, GBP or JPY.")
    interval: BillingInterval = strawberry.field(description="Monthly or yearly.")
    amount: MinorUnits = strawberry.field(
        description="Minor units per interval, before tax: 1 to 10^12."
    )
    reason: str = strawberry.field(description=REASON)

    def to_spec(self) -> PlanPriceSpec:
        """The price to sell, as the back office takes it."""
        return PlanPriceSpec(
            plan_code=self.plan_code,
            currency=self.currency,
            interval=str(self.interval.value),
            amount=self.amount,
        )


@strawberry.input(description="A refund of a paid invoice through the payment processor.")
class RefundInvoiceInput:
    invoice_id: strawberry.ID = strawberry.field(description="The invoice's global id.")
    amount: MinorUnits | None = strawberry.field(
        default=None,
        description="Minor units to refund; null refunds everything not yet refunded. At "
        "most what was paid less what was refunded (REFUND_EXCEEDS_PAID).",
    )
    reason: str = strawberry.field(
        description=REASON + " Kept with the credit note for billing staff (its first 500 "
        "characters); never shown to the customer nor printed on the document."
    )


@strawberry.input(description="An open invoice to close without payment, and why.")
class CloseInvoiceInput:
    invoice_id: strawberry.ID = strawberry.field(description="The invoice's global id.")
    reason: str = strawberry.field(description=REASON)


@strawberry.input(description="A metered event, from an internal producer.")
class RecordUsageInput:
    event_id: str = strawberry.field(
        description="The producer's unique id for the event (1 to 100 characters): sending it "
        "again records nothing more; with other contents it is USAGE_EVENT_CONFLICT."
    )
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")
    meter: str = strawberry.field(description="The meter: `api_calls`.")
    quantity: int = strawberry.field(description="Units used: 1 to 10^9.")
    occurred_at: datetime = strawberry.field(
        description="When it happened (with a time zone): within the open billing period, "
        "not in the future."
    )

    def to_spec(self) -> UsageEvent:
        """The event to record; an id that is not an account's is INVALID_ID on `accountId`."""
        return UsageEvent(
            account_id=parse_global_id(self.account_id, expect="Account", field="accountId")[1],
            meter=self.meter,
            quantity=self.quantity,
            event_id=self.event_id,
            occurred_at=self.occurred_at,
        )
