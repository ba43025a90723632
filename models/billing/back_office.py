"""Billing staff's actions on the catalogue and on usage, each audited in the caller's
transaction: coupons, promotion codes and plan prices (with the staff member's reason), and
usage recorded by internal producers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import utcnow
from models.billing import coupons, money, plans, usage
from models.billing.specs import CouponSpec, PlanPriceSpec, PromotionCodeSpec, UsageEvent
from models.billing.tables import Coupon, Plan, Price, PromotionCode, UsageRecord


def _coupon_facts(coupon: Coupon) -> dict[str, object]:
    return {
        "name": coupon.name,
        "percent_off": coupon.percent_off,
        "amounts_off": dict(coupon.amounts_off),
        "duration": coupon.duration,
        "duration_months": coupon.duration_months,
        "plan_codes": list(coupon.plan_codes),
        "max_redemptions": coupon.max_redemptions,
        "redeem_by": coupon.redeem_by.isoformat() if coupon.redeem_by else None,
        "first_time_only": coupon.first_time_only,
    }


async def create_coupon(
    session: AsyncSession,
    *,
    actor: Actor,
    reason: str | None,
    spec: CouponSpec,
) -> Coupon:
    """Define a coupon (see `coupons.create_coupon`), audited as billing.coupon.create."""
    why = audit.require_reason(reason)
    coupon = await coupons.create_coupon(session, spec)
    await audit.record_entry(
        session,
        actor=actor,
        action="billing.coupon.create",
        target_type="coupon",
        target_id=coupon.id,
        reason=why,
        after=_coupon_facts(coupon),
    )
    return coupon


async def create_promotion_code(
    session: AsyncSession,
    *,
    actor: Actor,
    reason: str | None,
    spec: PromotionCodeSpec,
) -> PromotionCode:
    """A code customers type to redeem a coupon, audited as billing.promotion_code.create."""
    why = audit.require_reason(reason)
    promotion = await coupons.create_promotion_code(session, spec)
    await audit.record_entry(
        session,
        actor=actor,
        action="billing.promotion_code.create",
        target_type="promotion_code",
        target_id=promotion.id,
        reason=why,
        after={
            "code": promotion.code,
            "coupon_id": spec.coupon_id,
            "max_redemptions": spec.max_redemptions,
            "expires_at": spec.expires_at.isoformat() if spec.expires_at else None,
            "first_time_only": spec.first_time_only,
        },
    )
    return promotion


async def set_plan_price(
    session: AsyncSession,
    *,
    actor: Actor,
    reason: str | None,
    spec: PlanPriceSpec,
) -> Price:
    """Sell a plan at a new price from now on: the new price replaces the active one, and
    subscribers keep the price they have until they change plan. Audited as
    billing.price.set with the amounts before and after."""
    why = audit.require_reason(reason)
    plan_code, interval, amount = spec.plan_code, spec.interval, spec.amount
    plans.check_plan(plan_code, interval)
    currency = money.check_currency(spec.currency)
    money.check_amount(amount, field="amount")
    # The plan's row is the lock: two staff setting its prices at once queue, and the
    # second then finds (and replaces) the price the first inserted. Locking only the
    # active price is not enough: the second would wait on it, find it inactive, and
    # insert a second active price (uq_billing_prices_active).
    await session.execute(select(Plan.code).where(Plan.code == plan_code).with_for_update())
    current = await session.scalar(
        select(Price)
        .where(
            Price.plan_code == plan_code,
            Price.currency == currency,
            Price.interval == interval,
            Price.active,
        )
        .execution_options(populate_existing=True)
    )
    if current is not None:
        current.active = False
        current.replaced_at = utcnow()
        await session.flush()
    price = Price(plan_code=plan_code, currency=currency, interval=interval, amount=amount)
    session.add(price)
    await session.flush()
    await audit.record_entry(
        session,
        actor=actor,
        action="billing.price.set",
        target_type="price",
        target_id=price.id,
        reason=why,
        before=None if current is None else {"price_id": current.id, "amount": current.amount},
        after={
            "plan_code": plan_code,
            "currency": currency,
            "interval": interval,
            "amount": amount,
        },
    )
    return price


async def record_usage(
    session: AsyncSession,
    *,
    actor: Actor,
    event: UsageEvent,
) -> UsageRecord:
    """Record a metered event for an account (see `usage.record_usage`); a new record is
    audited as billing.usage.record, a repeat of the same event is not (it changes nothing)."""
    before = await session.scalar(
        select(UsageRecord.id).where(UsageRecord.event_id == event.event_id)
    )
    record = await usage.record_usage(session, event)
    if before is None:
        await audit.record_entry(
            session,
            actor=actor,
            action="billing.usage.record",
            target_type="account",
            target_id=event.account_id,
            after={
                "event_id": event.event_id,
                "meter": event.meter,
                "quantity": event.quantity,
                "occurred_at": record.occurred_at.isoformat(),
            },
        )
    return record
