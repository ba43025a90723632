"""Billing back-office glue: every change runs through `staff_write` (a refund, which opens
its own transactions around Stripe, through `staff_action`), so a refused attempt is audited
too; the actions record their own audit entries."""

from __future__ import annotations

from models.base import utcnow
from models.billing import back_office, invoice_states, refunds, revenue
from models.billing.ledger import CreditNote, Invoice
from models.billing.revenue import Revenue
from models.billing.specs import CouponSpec, PlanPriceSpec, PromotionCodeSpec, UsageEvent
from models.billing.tables import Coupon, Price, PromotionCode, UsageRecord
from models.errors import DomainError
from resolvers.context import Context
from resolvers.paging import BadUserInput
from resolvers.staff import staff_action, staff_write


async def create_coupon(ctx: Context, spec: CouponSpec, *, reason: str | None) -> Coupon:
    async with staff_write(
        ctx, action="billing.coupon.create", target_type="coupon", target_id="", reason=reason
    ) as (session, actor):
        return await back_office.create_coupon(session, actor=actor, reason=reason, spec=spec)


async def create_promotion_code(
    ctx: Context, spec: PromotionCodeSpec, *, reason: str | None
) -> tuple[PromotionCode, Coupon]:
    async with staff_write(
        ctx,
        action="billing.promotion_code.create",
        target_type="coupon",
        target_id=spec.coupon_id,
        reason=reason,
    ) as (session, actor):
        promotion = await back_office.create_promotion_code(
            session, actor=actor, reason=reason, spec=spec
        )
        coupon = await session.get(Coupon, spec.coupon_id)
        assert coupon is not None
        return promotion, coupon


async def set_plan_price(ctx: Context, spec: PlanPriceSpec, *, reason: str | None) -> Price:
    async with staff_write(
        ctx, action="billing.price.set", target_type="plan", target_id=spec.plan_code, reason=reason
    ) as (session, actor):
        return await back_office.set_plan_price(session, actor=actor, reason=reason, spec=spec)


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


async def record_usage(ctx: Context, event: UsageEvent) -> UsageRecord:
    async with staff_write(
        ctx,
        action="billing.usage.record",
        target_type="account",
        target_id=event.account_id,
        reason="",
    ) as (session, actor):
        return await back_office.record_usage(session, actor=actor, event=event)


async def revenue_figures(ctx: Context, *, currency: str) -> Revenue:
    try:
        async with ctx.read() as session:
            return await revenue.revenue(session, currency=currency, now=utcnow())
    except DomainError as err:
        raise BadUserInput(err.message, argument="currency") from err
