"""Billing back-office glue: every change runs through `staff_write` (a refund, which opens
its own transactions around Stripe, through `staff_action`), so a refused attempt is audited
too; the actions record their own audit entries."""

from __future__ import annotations

from datetime import datetime

from models.base import utcnow
from models.billing import back_office, invoice_states, refunds, revenue
from models.billing.ledger import CreditNote, Invoice
from models.billing.revenue import Revenue
from models.billing.tables import Coupon, Price, PromotionCode, UsageRecord
from models.errors import DomainError
from resolvers.context import Context
from resolvers.paging import BadUserInput
from resolvers.staff import staff_action, staff_write


async def create_coupon(
    ctx: Context,
    *,
    reason: str | None,
    name: str,
    percent_off: int | None,
    amounts_off: list[tuple[str, int]],
    duration: str,
    duration_months: int | None,
    plan_codes: list[str],
    max_redemptions: int | None,
    redeem_by: datetime | None,
    first_time_only: bool,
) -> Coupon:
    async with staff_write(
        ctx, action="billing.coupon.create", target_type="coupon", target_id="", reason=reason
    ) as (session, actor):
        return await back_office.create_coupon(
            session,
            actor=actor,
            reason=reason,
            name=name,
            percent_off=percent_off,
            amounts_off=amounts_off,
            duration=duration,
            duration_months=duration_months,
            plan_codes=plan_codes,
            max_redemptions=max_redemptions,
            redeem_by=redeem_by,
            first_time_only=first_time_only,
        )


async def create_promotion_code(
    ctx: Context,
    *,
    reason: str | None,
    coupon_id: int,
    code: str,
    max_redemptions: int | None,
    expires_at: datetime | None,
    first_time_only: bool,
) -> tuple[PromotionCode, Coupon]:
    async with staff_write(
        ctx,
        action="billing.promotion_code.create",
        target_type="coupon",
        target_id=coupon_id,
        reason=reason,
    ) as (session, actor):
        promotion = await back_office.create_promotion_code(
            session,
            actor=actor,
            reason=reason,
            coupon_id=coupon_id,
            code=code,
            max_redemptions=max_redemptions,
            expires_at=expires_at,
            first_time_only=first_time_only,
        )
        coupon = await session.get(Coupon, coupon_id)
        assert coupon is not None
        return promotion, coupon


async def set_plan_price(
    ctx: Context, *, reason: str | None, plan_code: str, currency: str, interval: str, amount: int
) -> Price:
    async with staff_write(
        ctx, action="billing.price.set", target_type="plan", target_id=plan_code, reason=reason
    ) as (session, actor):
        return await back_office.set_plan_price(
            session,
            actor=actor,
            reason=reason,
            plan_code=plan_code,
            currency=currency,
            interval=interval,
            amount=amount,
        )


async def refund_invoice(
    ctx: Context, *, invoice_id: int, amount: int | None, reason: str
) -> CreditNote:
    """The refund talks to Stripe between its own transactions, so none is open around it
    (`staff_action`, not `staff_write`); a refusal is audited all the same."""
    setup = ctx.runtime.billing
    assert setup is not None
    async with staff_action(
        ctx, action="billing.refund", target_type="invoice", target_id=invoice_id, reason=reason
    ) as actor:
        return await refunds.refund_invoice(
            ctx.runtime.transactions,
            setup,
            actor=actor,
            invoice_id=invoice_id,
            amount=amount,
            reason=reason,
        )


async def close_invoice(ctx: Context, *, invoice_id: int, reason: str, void: bool) -> Invoice:
    """Void an open invoice, or mark it uncollectible."""
    action = "billing.invoice.void" if void else "billing.invoice.mark_uncollectible"
    async with staff_write(
        ctx, action=action, target_type="invoice", target_id=invoice_id, reason=reason
    ) as (session, actor):
        if void:
            return await invoice_states.void_invoice(
                session, actor=actor, invoice_id=invoice_id, reason=reason
            )
        return await invoice_states.mark_uncollectible(
            session, actor=actor, invoice_id=invoice_id, reason=reason
        )


async def record_usage(
    ctx: Context,
    *,
    account_id: int,
    meter: str,
    quantity: int,
    event_id: str,
    occurred_at: datetime,
) -> UsageRecord:
    async with staff_write(
        ctx, action="billing.usage.record", target_type="account", target_id=account_id, reason=""
    ) as (session, actor):
        return await back_office.record_usage(
            session,
            actor=actor,
            account_id=account_id,
            meter=meter,
            quantity=quantity,
            event_id=event_id,
            occurred_at=occurred_at,
        )


async def revenue_figures(ctx: Context, *, currency: str) -> Revenue:
    try:
        async with ctx.read() as session:
            return await revenue.revenue(session, currency=currency, now=utcnow())
    except DomainError as err:
        raise BadUserInput(err.message, argument="currency") from err
