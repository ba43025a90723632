"""Redeeming promotion codes at subscribe, through the billing engine on the in-memory
payment gateway: every bad code is refused with its own code. (Creating coupons through the
API, with its audit entries and permissions, stays in tests/api/billing/test_billing_coupons.py.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.billing import coupons
from models.billing.setup import BillingSetup
from models.billing.specs import CouponSpec, PromotionCodeSpec
from models.billing.tables import Coupon, Subscription
from models.errors import DomainError
from tests.support.domain_billing import customer, subscribe

Sessions = async_sessionmaker[AsyncSession]
PAST = datetime(2020, 1, 1, tzinfo=UTC)


async def _coupon(sessions: Sessions, *, plan_codes: list[str] | None = None) -> Coupon:
    async with sessions() as session, session.begin():
        spec = CouponSpec(
            name="Launch",
            percent_off=50,
            amounts_off=(),
            duration="once",
            duration_months=None,
            plan_codes=tuple(plan_codes or ()),
            max_redemptions=None,
            redeem_by=None,
            first_time_only=False,
        )
        return await coupons.create_coupon(session, spec)


async def _code(
    sessions: Sessions,
    coupon: Coupon,
    code: str,
    *,
    max_redemptions: int | None = None,
    expires_at: datetime | None = None,
) -> None:
    async with sessions() as session, session.begin():
        spec = PromotionCodeSpec(
            coupon_id=coupon.id,
            code=code,
            max_redemptions=max_redemptions,
            expires_at=expires_at,
            first_time_only=False,
        )
        await coupons.create_promotion_code(session, spec)


async def _refusal(
    sessions: Sessions, setup: BillingSetup, account_id: int, code: str, plan_code: str = "plus"
) -> str:
    with pytest.raises(DomainError) as refused:
        await subscribe(sessions, setup, account_id, plan_code, promotion_code=code)
    assert refused.value.field == "promotionCode"
    return refused.value.code


async def test_every_bad_code_is_refused_with_its_own_code(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    coupon = await _coupon(db_sessionmaker, plan_codes=["plus"])
    await _code(db_sessionmaker, coupon, "PLUSONLY")
    await _code(db_sessionmaker, coupon, "EXPIRED", expires_at=PAST)
    await _code(db_sessionmaker, coupon, "ONCE", max_redemptions=1)
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    bob = await customer(db_sessionmaker, billing_setup, "bob")

    expired = await _refusal(db_sessionmaker, billing_setup, ada, "EXPIRED")
    wrong_plan = await _refusal(db_sessionmaker, billing_setup, ada, "PLUSONLY", "pro")
    unknown = await _refusal(db_sessionmaker, billing_setup, ada, "NOSUCHCODE")
    first = await subscribe(db_sessionmaker, billing_setup, ada, promotion_code="ONCE")
    exhausted = await _refusal(db_sessionmaker, billing_setup, bob, "ONCE")
    # The same offer through another of its codes: one redemption per customer.
    second = await subscribe(db_sessionmaker, billing_setup, bob, promotion_code="PLUSONLY")
    with pytest.raises(DomainError) as again:
        await subscribe(db_sessionmaker, billing_setup, bob, promotion_code="PLUSONLY")

    assert expired == "COUPON_EXPIRED"
    assert wrong_plan == "COUPON_NOT_APPLICABLE"
    assert unknown == "UNKNOWN_COUPON"
    assert first.status == second.status == "active"
    assert exhausted == "COUPON_EXHAUSTED"
    assert again.value.code == "ALREADY_SUBSCRIBED"


async def test_a_second_redemption_of_one_offer_is_refused(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    coupon = await _coupon(db_sessionmaker)
    await _code(db_sessionmaker, coupon, "FIRST")
    await _code(db_sessionmaker, coupon, "OTHER")
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(db_sessionmaker, billing_setup, ada, promotion_code="FIRST")
    async with db_sessionmaker() as session, session.begin():
        # The subscription ended: the customer may subscribe again, not redeem again.
        await session.execute(update(Subscription).values(status="canceled"))

    again = await _refusal(db_sessionmaker, billing_setup, ada, "OTHER")

    assert again == "COUPON_ALREADY_REDEEMED"
