"""GraphQL types of the billing back office: coupons, promotion codes and revenue figures."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from models.billing import tables
from models.billing.revenue import Revenue as RevenueFigures
from models.billing.tables import Coupon as CouponRow
from models.billing.tables import PromotionCode as PromotionCodeRow
from resolvers.paging import global_id
from schema.billing.types import Money


@strawberry.enum(description="How long a coupon's discount lasts for a customer.")
class CouponDuration(Enum):
    ONCE = strawberry.enum_value(tables.ONCE, description="The first invoice only.")
    REPEATING = strawberry.enum_value(
        tables.REPEATING,
        description="Invoices whose period starts within `durationMonths` of redeeming.",
    )
    FOREVER = strawberry.enum_value(tables.FOREVER, description="Every invoice.")


@strawberry.type(description="A discount: a percentage, or a fixed amount per currency.")
class Coupon:
    id: strawberry.ID = strawberry.field(
        description="The coupon's global id, as `createPromotionCode` takes it."
    )
    name: str = strawberry.field(
        description="Its name, shown on invoices (at most 100 characters)."
    )
    percent_off: int | None = strawberry.field(
        description="The percentage taken off (1 to 100), or null for a fixed amount."
    )
    amounts_off: list[Money] = strawberry.field(
        description="The fixed amount taken off in each currency it may be used in (at most "
        "one per currency); empty for a percentage."
    )
    duration: CouponDuration = strawberry.field(description="How long the discount lasts.")
    duration_months: int | None = strawberry.field(
        description="For REPEATING: how many months (1 to 120); else null."
    )
    plan_codes: list[str] = strawberry.field(
        description="The plans it applies to; empty means every paid plan."
    )
    max_redemptions: int | None = strawberry.field(
        description="How many customers may redeem it in all; null for no limit."
    )
    times_redeemed: int = strawberry.field(description="How many customers have redeemed it.")
    redeem_by: datetime | None = strawberry.field(
        description="After this (UTC) it can no longer be redeemed; null for no limit."
    )
    first_time_only: bool = strawberry.field(
        description="Only for accounts that never subscribed before."
    )
    created_at: datetime = strawberry.field(description="When it was created (UTC).")

    @classmethod
    def from_row(cls, row: CouponRow) -> Coupon:
        return cls(
            id=strawberry.ID(global_id("Coupon", row.id)),
            name=row.name,
            percent_off=row.percent_off,
            amounts_off=[Money.of(a, c) for c, a in sorted(row.amounts_off.items())],
            duration=CouponDuration(row.duration),
            duration_months=row.duration_months,
            plan_codes=list(row.plan_codes),
            max_redemptions=row.max_redemptions,
            times_redeemed=row.times_redeemed,
            redeem_by=row.redeem_by,
            first_time_only=row.first_time_only,
            created_at=row.created_at,
        )


@strawberry.type(description="A code customers type at `subscribe` to redeem a coupon.")
class PromotionCode:
    id: strawberry.ID = strawberry.field(description="The promotion code's global id.")
    code: str = strawberry.field(
        description="The code, upper case (customers may type it in any case)."
    )
    coupon: Coupon = strawberry.field(description="The coupon it redeems.")
    max_redemptions: int | None = strawberry.field(
        description="How many times this code may be redeemed; null for no limit (the "
        "coupon's own limit still applies)."
    )
    times_redeemed: int = strawberry.field(description="How many times it was redeemed.")
    expires_at: datetime | None = strawberry.field(
        description="After this (UTC) the code no longer works; null for never."
    )
    first_time_only: bool = strawberry.field(
        description="Only for accounts that never subscribed before."
    )
    created_at: datetime = strawberry.field(description="When it was created (UTC).")

    @classmethod
    def from_row(cls, row: PromotionCodeRow, coupon: CouponRow) -> PromotionCode:
        return cls(
            id=strawberry.ID(global_id("PromotionCode", row.id)),
            code=row.code,
            coupon=Coupon.from_row(coupon),
            max_redemptions=row.max_redemptions,
            times_redeemed=row.times_redeemed,
            expires_at=row.expires_at,
            first_time_only=row.first_time_only,
            created_at=row.created_at,
        )


@strawberry.type(
    description="Revenue in one currency (nothing is converted), now and over the last 30 days."
)
class Revenue:
    currency: str = strawberry.field(description="The ISO 4217 code of these figures.")
    as_of: datetime = strawberry.field(description="When the figures were computed (UTC).")
    window_start: datetime = strawberry.field(
        description="The start of the 30-day window that churn and payments cover (UTC)."
    )
    mrr: Money = strawberry.field(
        description="Monthly recurring revenue: the list prices of active and past-due "
        "subscriptions, an annual price counting as a twelfth; before coupons and tax."
    )
    active_subscribers: int = strawberry.field(
        description="Subscriptions active or past due now, in this currency."
    )
    subscribers_at_window_start: int = strawberry.field(
        description="Subscriptions that were live when the window started."
    )
    canceled_in_window: int = strawberry.field(
        description="Of those, how many were canceled within the window."
    )
    churn_rate: float | None = strawberry.field(
        description="canceledInWindow / subscribersAtWindowStart, from 0 to 1; null when "
        "there were no subscribers at the start."
    )
    payments_in_window: int = strawberry.field(
        description="Payment attempts made within the window (succeeded, failed or pending)."
    )
    failed_payments_in_window: int = strawberry.field(description="Of those, how many failed.")
    failed_payment_rate: float | None = strawberry.field(
        description="failedPaymentsInWindow / paymentsInWindow, from 0 to 1; null without payments."
    )

    @classmethod
    def of(cls, figures: RevenueFigures) -> Revenue:
        return cls(
            currency=figures.currency,
            as_of=figures.as_of,
            window_start=figures.window_start,
            mrr=Money.of(figures.mrr, figures.currency),
            active_subscribers=figures.active_subscribers,
            subscribers_at_window_start=figures.subscribers_at_window_start,
            canceled_in_window=figures.canceled_in_window,
            churn_rate=figures.churn_rate,
            payments_in_window=figures.payments_in_window,
            failed_payments_in_window=figures.failed_payments_in_window,
            failed_payment_rate=figures.failed_payment_rate,
        )
