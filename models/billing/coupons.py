"""Coupons (what discount) and promotion codes (what customers type), redeemed once per
customer, within their limits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import as_utc
from models.billing import errors, money
from models.billing.catalogue import PLANS
from models.billing.pricing import Discount, shift_months
from models.billing.specs import CouponSpec, PromotionCodeSpec
from models.billing.tables import (
    DURATIONS,
    REPEATING,
    Coupon,
    CouponRedemption,
    PromotionCode,
    Subscription,
)
from models.errors import InvalidInput
from models.text import check_text

MAX_CODE_LENGTH = 40
# The cancel reason of a subscription whose first invoice was never paid
# (`incomplete.expire_incomplete`): it never made its account a customer. Defined here
# because `incomplete` imports this module.
INCOMPLETE_EXPIRED = "incomplete_expired"


# Checked before upper-casing: str.isalnum and str.upper accept other scripts' digits and
# letters ("١٢٣") and turn some into ASCII ("ß" is "SS"), so one code could be typed many ways.
_CODE = re.compile(rf"[A-Za-z0-9-]{{1,{MAX_CODE_LENGTH}}}")


def normalise_code(code: str) -> str:
    """A promotion code as stored: ASCII letters (upper case), digits and '-', 1 to 40."""
    check_text(code, field="promotionCode")
    stripped = code.strip()
    if not _CODE.fullmatch(stripped):
        raise errors.UnknownCoupon("No such promotion code.", field="promotionCode")
    return stripped.upper()


def _amounts_off(amounts_off: Sequence[tuple[str, int]]) -> dict[str, int]:
    checked: dict[str, int] = {}
    for currency, amount in amounts_off:
        normal = money.check_currency(currency, field="amountsOff")
        if normal in checked:
            raise errors.InvalidAmount(
                f"amountsOff gives {normal} twice: give one amount per currency.",
                field="amountsOff",
            )
        checked[normal] = money.check_amount(amount, field="amountsOff")
    return checked


async def create_coupon(session: AsyncSession, spec: CouponSpec) -> Coupon:
    """Define a discount: a percentage, or a fixed amount in each currency it may be used in
    (one per currency)."""
    name, percent_off, duration_months = spec.name, spec.percent_off, spec.duration_months
    max_redemptions, redeem_by = spec.max_redemptions, spec.redeem_by
    check_text(name, field="name")
    if not name.strip() or len(name) > 100:
        raise errors.InvalidAmount("A coupon needs a name of at most 100 characters.", field="name")
    if (percent_off is None) == (not spec.amounts_off):
        raise errors.InvalidAmount(
            "Give either percentOff or amountsOff, not both or neither.", field="percentOff"
        )
    if percent_off is not None and not 1 <= percent_off <= 100:
        raise errors.InvalidAmount("percentOff must be from 1 to 100.", field="percentOff")
    checked = _amounts_off(spec.amounts_off)
    if spec.duration not in DURATIONS:
        raise errors.InvalidAmount("duration must be once, repeating or forever.", field="duration")
    if (spec.duration == REPEATING) != (duration_months is not None):
        raise errors.InvalidAmount(
            "durationMonths is required for a repeating coupon and only then.",
            field="durationMonths",
        )
    if duration_months is not None and not 1 <= duration_months <= 120:
        raise errors.InvalidAmount("durationMonths must be from 1 to 120.", field="durationMonths")
    for code in spec.plan_codes:
        if code not in PLANS or not PLANS[code].prices:
            raise errors.UnknownPlan(f"No paid plan {code!r}.", field="planCodes")
    if max_redemptions is not None and max_redemptions < 1:
        raise errors.InvalidAmount("maxRedemptions must be at least 1.", field="maxRedemptions")
    if redeem_by is not None:
        redeem_by = as_utc(redeem_by, field="redeemBy", error=InvalidInput)
    coupon = Coupon(
        name=name.strip(),
        percent_off=percent_off,
        amounts_off=checked,
        duration=spec.duration,
        duration_months=duration_months,
        plan_codes=sorted(set(spec.plan_codes)),
        max_redemptions=max_redemptions,
        redeem_by=redeem_by,
        first_time_only=spec.first_time_only,
    )
    session.add(coupon)
    await session.flush()
    return coupon


async def create_promotion_code(session: AsyncSession, spec: PromotionCodeSpec) -> PromotionCode:
    """A code customers can type to redeem a coupon; codes are unique, case-insensitive."""
    if await session.get(Coupon, spec.coupon_id) is None:
        raise errors.UnknownCoupon("No such coupon.", field="couponId")
    normal = normalise_code(spec.code)
    if spec.max_redemptions is not None and spec.max_redemptions < 1:
        raise errors.InvalidAmount("maxRedemptions must be at least 1.", field="maxRedemptions")
    expires_at = spec.expires_at
    if expires_at is not None:
        expires_at = as_utc(expires_at, field="expiresAt", error=InvalidInput)
    promotion = PromotionCode(
        code=normal,
        coupon_id=spec.coupon_id,
        max_redemptions=spec.max_redemptions,
        expires_at=expires_at,
        first_time_only=spec.first_time_only,
    )
    try:
        async with session.begin_nested():
            session.add(promotion)
            await session.flush()
    except IntegrityError:
        raise errors.CouponAlreadyRedeemed(
            "That promotion code exists already.", code="CONFLICT", field="code"
        ) from None
    return promotion


async def create_offer(session: AsyncSession, spec: CouponSpec, *, code: str) -> PromotionCode:
    """A coupon and one promotion code for it with no limits of its own (the coupon's apply):
    the demo offer `chirp seed` makes, and the tests' offers."""
    coupon = await create_coupon(session, spec)
    return await create_promotion_code(
        session,
        PromotionCodeSpec(
            coupon_id=coupon.id,
            code=code,
            max_redemptions=None,
            expires_at=None,
            first_time_only=False,
        ),
    )


async def check_code(
    session: AsyncSession,
    *,
    code: str,
    account_id: int,
    plan_code: str,
    currency: str,
    now: datetime,
) -> tuple[Coupon, PromotionCode]:
    """The coupon behind a promotion code if this customer may use it on this plan now."""
    normal = normalise_code(code)
    promotion = await session.scalar(select(PromotionCode).where(PromotionCode.code == normal))
    coupon = None if promotion is None else await session.get(Coupon, promotion.coupon_id)
    if promotion is None or coupon is None or not promotion.active or not coupon.active:
        raise errors.UnknownCoupon("No such promotion code.", field="promotionCode")
    if (promotion.expires_at and promotion.expires_at <= now) or (
        coupon.redeem_by and coupon.redeem_by <= now
    ):
        raise errors.CouponExpired("That promotion code has expired.", field="promotionCode")
    if _used_up(promotion.times_redeemed, promotion.max_redemptions) or _used_up(
        coupon.times_redeemed, coupon.max_redemptions
    ):
        raise errors.CouponExhausted(
            "That promotion code has been used as often as it may be.", field="promotionCode"
        )
    if coupon.plan_codes and plan_code not in coupon.plan_codes:
        raise errors.CouponNotApplicable(
            "That promotion code does not apply to this plan.", field="promotionCode"
        )
    if coupon.percent_off is None and currency not in coupon.amounts_off:
        raise errors.CouponNotApplicable(
            f"That promotion code cannot be used in {currency}.", field="promotionCode"
        )
    if coupon.first_time_only or promotion.first_time_only:
        earlier = await session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(
                Subscription.account_id == account_id,
                Subscription.cancel_reason != INCOMPLETE_EXPIRED,
            )
        )
        if earlier:
            raise errors.CouponNotApplicable(
                "That promotion code is for first-time customers.", field="promotionCode"
            )
    redeemed = await session.scalar(
        select(CouponRedemption.id).where(
            CouponRedemption.coupon_id == coupon.id, CouponRedemption.account_id == account_id
        )
    )
    if redeemed is not None:
        raise errors.CouponAlreadyRedeemed(
            "You have already redeemed this offer.", field="promotionCode"
        )
    return coupon, promotion


def _used_up(times: int, limit: int | None) -> bool:
    return limit is not None and times >= limit


async def redeem(
    session: AsyncSession,
    *,
    coupon: Coupon,
    promotion: PromotionCode,
    account_id: int,
    now: datetime,
) -> CouponRedemption:
    """Count the redemption against both limits with conditional updates, so concurrent
    redemptions never exceed them, and record it (once per customer)."""
    for table, row_id, limit in (
        (Coupon, coupon.id, coupon.max_redemptions),
        (PromotionCode, promotion.id, promotion.max_redemptions),
    ):
        stmt = update(table).where(table.id == row_id)
        if limit is not None:
            stmt = stmt.where(table.times_redeemed < limit)
        result = await session.execute(stmt.values(times_redeemed=table.times_redeemed + 1))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise errors.CouponExhausted(
                "That promotion code has been used as often as it may be.", field="promotionCode"
            )
    until = None
    if coupon.duration == REPEATING and coupon.duration_months is not None:
        until = shift_months(now, coupon.duration_months)
    redemption = CouponRedemption(
        coupon_id=coupon.id,
        promotion_code_id=promotion.id,
        account_id=account_id,
        applies_until=until,
    )
    try:
        async with session.begin_nested():
            session.add(redemption)
            await session.flush()
    except IntegrityError:
        raise errors.CouponAlreadyRedeemed(
            "You have already redeemed this offer.", field="promotionCode"
        ) from None
    return redemption


async def release_redemption(session: AsyncSession, *, redemption_id: int) -> None:
    """Give back a redemption whose subscription never started: the customer may redeem the
    coupon again, and it no longer counts against the coupon's or the code's limits."""
    redemption = await session.get(CouponRedemption, redemption_id, with_for_update=True)
    if redemption is None:
        return
    # The same order as `redeem`, so the two never wait on each other the other way round.
    counted: list[tuple[type[Coupon] | type[PromotionCode], int | None]] = [
        (Coupon, redemption.coupon_id),
        (PromotionCode, redemption.promotion_code_id),
    ]
    for table, row_id in counted:
        if row_id is not None:
            await session.execute(
                update(table)
                .where(table.id == row_id, table.times_redeemed > 0)
                .values(times_redeemed=table.times_redeemed - 1)
            )
    await session.execute(
        update(Subscription)
        .where(Subscription.redemption_id == redemption_id)
        .values(redemption_id=None)
    )
    await session.delete(redemption)
    await session.flush()


async def discount_for(
    session: AsyncSession,
    *,
    redemption_id: int | None,
    currency: str,
    period_start: datetime,
    plan_code: str,
) -> tuple[Discount | None, CouponRedemption | None]:
    """The discount a subscription's redemption gives an invoice for a period of `plan_code`,
    if any: a coupon limited to some plans stops applying once the subscription moves to
    another plan (and applies again if it comes back within the coupon's duration)."""
    if redemption_id is None:
        return None, None
    redemption = await session.get(CouponRedemption, redemption_id)
    if redemption is None or redemption.spent:
        return None, None
    if redemption.applies_until is not None and period_start >= redemption.applies_until:
        return None, None
    coupon = await session.get(Coupon, redemption.coupon_id)
    if coupon is None or (coupon.plan_codes and plan_code not in coupon.plan_codes):
        return None, None
    if coupon.percent_off is not None:
        return Discount(percent_off=coupon.percent_off), redemption
    amount = coupon.amounts_off.get(currency)
    return (Discount(amount_off=amount), redemption) if amount else (None, None)
