"""What customers and billing staff ask billing for, as one typed value each: a subscription,
a coupon, a promotion code, a plan price, a metered event. The actions check them (errors
name the GraphQL input fields); these are plain values, built by the schema's inputs
(`to_spec()`) or by tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    """The paid plan a customer asks for: a plan and interval, billed in `currency`, taxed in
    `country` (kept from an earlier subscription when None), with an optional promotion code."""

    plan_code: str
    interval: str
    currency: str
    country: str | None = None
    promotion_code: str | None = None


@dataclass(frozen=True, slots=True)
class CouponSpec:
    """A coupon to define: `percent_off` or `amounts_off` ((currency, minor units) pairs)."""

    name: str
    percent_off: int | None
    amounts_off: tuple[tuple[str, int], ...]
    duration: str
    duration_months: int | None
    plan_codes: tuple[str, ...]
    max_redemptions: int | None
    redeem_by: datetime | None
    first_time_only: bool


@dataclass(frozen=True, slots=True)
class PromotionCodeSpec:
    """A code customers type to redeem the coupon `coupon_id`."""

    coupon_id: int
    code: str
    max_redemptions: int | None
    expires_at: datetime | None
    first_time_only: bool


@dataclass(frozen=True, slots=True)
class PlanPriceSpec:
    """A plan's new price in one currency and interval, in minor units."""

    plan_code: str
    currency: str
    interval: str
    amount: int


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """A metered event from an internal producer, unique by `event_id`."""

    account_id: int
    meter: str
    quantity: int
    event_id: str
    occurred_at: datetime
