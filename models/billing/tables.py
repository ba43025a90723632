"""Billing tables: the catalogue (plans, prices, coupons), customers, their payment methods,
subscriptions and metered usage. Invoices and payments are in `ledger.py`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, utcnow

MONTH = "month"
YEAR = "year"
INTERVALS = (MONTH, YEAR)

# The first invoice is not paid yet (a retry of subscribe continues it).
INCOMPLETE = "incomplete"
ACTIVE = "active"
PAST_DUE = "past_due"
# The grace period ran out: free plan's entitlements, invoices still open; paying them
# (for example by updating the payment method) makes the subscription active again.
UNPAID = "unpaid"
CANCELED = "canceled"

ONCE = "once"
REPEATING = "repeating"
FOREVER = "forever"
DURATIONS = (ONCE, REPEATING, FOREVER)


class Plan(Base):
    """A plan's identity and rank (a higher rank is an upgrade); what it unlocks is in
    `catalogue.ENTITLEMENTS`, what it costs in `prices`."""

    __tablename__ = "billing_plans"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Price(Base):
    """What a plan costs per interval in one currency. Prices never change: a new price
    replaces the active one, and subscribers keep the price they have until they change plan."""

    __tablename__ = "billing_prices"
    __table_args__ = (
        Index(
            "uq_billing_prices_active",
            "plan_code",
            "currency",
            "interval",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_code: Mapped[str] = mapped_column(String(32), ForeignKey("billing_plans.code"))
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigId)
    active: Mapped[bool] = mapped_column(default=True)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Coupon(Base):
    """A discount: `percent_off` (1 to 100) or `amounts_off` per currency (minor units), applied
    once, for `duration_months` invoices, or forever."""

    __tablename__ = "billing_coupons"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    percent_off: Mapped[int | None] = mapped_column(default=None)
    amounts_off: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    duration: Mapped[str] = mapped_column(String(16))
    duration_months: Mapped[int | None] = mapped_column(default=None)
    # Empty means every paid plan.
    plan_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_redemptions: Mapped[int | None] = mapped_column(default=None)
    times_redeemed: Mapped[int] = mapped_column(default=0)
    redeem_by: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    first_time_only: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PromotionCode(Base):
    """A code customers type (stored upper case) that redeems a coupon, with its own limits."""

    __tablename__ = "billing_promotion_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    coupon_id: Mapped[int] = mapped_column(BigId, ForeignKey("billing_coupons.id"))
    max_redemptions: Mapped[int | None] = mapped_column(default=None)
    times_redeemed: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    first_time_only: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CouponRedemption(Base):
    """A customer's one redemption of a coupon. A `once` coupon is `spent` by its first
    invoice; a repeating one discounts invoices whose period starts before `applies_until`;
    a forever one has neither limit."""

    __tablename__ = "billing_coupon_redemptions"
    __table_args__ = (UniqueConstraint("coupon_id", "account_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    coupon_id: Mapped[int] = mapped_column(BigId, ForeignKey("billing_coupons.id"))
    promotion_code_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("billing_promotion_codes.id"), default=None
    )
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    applies_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    spent: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BillingCustomer(Base):
    """An account as a customer: its currency (fixed at the first subscription), country
    (for tax), Stripe customer, default payment method and credit balance (minor units of
    its currency, never negative) carried to its next invoices."""

    __tablename__ = "billing_customers"

    account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    default_payment_method_id: Mapped[int | None] = mapped_column(BigId, default=None)
    credit_balance: Mapped[int] = mapped_column(BigId, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PaymentMethod(Base):
    """A card the frontend created with Stripe's library: Chirp keeps its id and what to show
    (brand, last four digits, expiry), never the number."""

    __tablename__ = "billing_payment_methods"
    __table_args__ = (Index(None, "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    stripe_payment_method_id: Mapped[str] = mapped_column(String(64), unique=True)
    brand: Mapped[str] = mapped_column(String(32), default="")
    last4: Mapped[str] = mapped_column(String(4), default="")
    exp_month: Mapped[int] = mapped_column(default=0)
    exp_year: Mapped[int] = mapped_column(default=0)
    detached_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscription(Base):
    """An account's paid plan. At most one is not canceled per account. `pending_price_id` is
    a downgrade that takes effect at `current_period_end`. While past due, `retry_step` and
    `next_retry_at` follow the dunning schedule until `grace_ends_at`."""

    __tablename__ = "billing_subscriptions"
    __table_args__ = (
        Index(
            "uq_billing_subscriptions_live",
            "account_id",
            unique=True,
            postgresql_where=text("status <> 'canceled'"),
            sqlite_where=text("status <> 'canceled'"),
        ),
        Index(None, "status", "current_period_end"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    price_id: Mapped[int] = mapped_column(BigId, ForeignKey("billing_prices.id"))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    # Periods are whole months (or years) from this instant (see pricing.period_end_after).
    billing_anchor: Mapped[datetime] = mapped_column(UTCDateTime)
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    pending_price_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("billing_prices.id"), default=None
    )
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    redemption_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("billing_coupon_redemptions.id"), default=None
    )
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    retry_step: Mapped[int] = mapped_column(default=0)
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    grace_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # An annual plan's usage is invoiced month by month (usage_invoices.py): the month
    # boundary up to which it is, within the current period (None: none yet).
    usage_billed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Paid features frozen while a dispute is open (BILLING_FREEZE_ON_DISPUTE).
    frozen: Mapped[bool] = mapped_column(default=False)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancel_reason: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class UsageRecord(Base):
    """A metered event, recorded once by its producer's `event_id`, billed in arrears on the
    invoice that closes its period (`invoice_id`)."""

    __tablename__ = "billing_usage_records"
    __table_args__ = (Index(None, "account_id", "meter", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    meter: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(BigId)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    invoice_id: Mapped[int | None] = mapped_column(BigId, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StripeRequest(Base):
    """An idempotency key, stored (committed) before the Stripe call it belongs to, so a retry
    after a timeout or a crash sends the same key and Stripe does the work once."""

    __tablename__ = "billing_stripe_requests"
    __table_args__ = (Index(None, "created_at"),)

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    result_id: Mapped[str | None] = mapped_column(String(64), default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
