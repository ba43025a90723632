"""Subscribing, changing plan (with proration and its preview), cancelling, and what the
account's plan entitles it to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.billing import (
    coupons,
    customers,
    endings,
    errors,
    incomplete,
    invoicing,
    money,
    payments,
    plans,
    renewals,
    usage,
)
from models.billing.ledger import (
    FAILED,
    OPEN,
    SUBSCRIPTION_CREATE,
    SUBSCRIPTION_UPDATE,
    Invoice,
    Payment,
)
from models.billing.pricing import period_end_after
from models.billing.setup import BillingSetup
from models.billing.specs import SubscriptionSpec
from models.billing.tables import (
    ACTIVE,
    CANCELED,
    INCOMPLETE,
    PAST_DUE,
    UNPAID,
    BillingCustomer,
    Price,
    Subscription,
)
from models.transactions import Transactions


async def live_subscription(
    session: AsyncSession, *, account_id: int, lock: bool = False
) -> Subscription | None:
    """The account's subscription that is not canceled, if any (at most one exists)."""
    stmt = select(Subscription).where(
        Subscription.account_id == account_id, Subscription.status != CANCELED
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(stmt)


async def subscribe(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    account_id: int,
    spec: SubscriptionSpec,
    now: datetime | None = None,
) -> Subscription:
    """Start a paid plan: the first invoice is issued and paid at once. Calling again after a
    failure or a timeout continues the same incomplete subscription and invoice. An unpaid
    subscription is ended first (its open invoices written off), in the transaction that
    starts the new one: a refused choice leaves it as it was."""
    now = now or utcnow()
    plan_code, interval, currency = spec.plan_code, spec.interval, spec.currency
    country, promotion_code = spec.country, spec.promotion_code
    currency = money.check_currency(currency)
    plans.check_plan(plan_code, interval)
    country = plans.check_country(country)
    await customers.ensure_stripe_customer(transactions, setup.gateway, account_id=account_id)
    await _replace_a_different_incomplete(
        transactions,
        setup,
        account_id=account_id,
        wanted=(plan_code, interval, currency),
        promotion_code=promotion_code,
        now=now,
    )
    async with transactions.begin() as session:
        customer = await customers.lock_customer(session, account_id=account_id)
        await _end_unpaid(session, account_id=account_id, reason=endings.RESUBSCRIBED, now=now)
        live = await live_subscription(session, account_id=account_id, lock=True)
        if live is not None and live.status != INCOMPLETE:
            raise errors.AlreadySubscribed(
                "You have a subscription already: change its plan instead.", field="planCode"
            )
        if live is None:
            live = await _start(
                session,
                customer=customer,
                account_id=account_id,
                plan_code=plan_code,
                interval=interval,
                currency=currency,
                country=country,
                promotion_code=promotion_code,
                now=now,
            )
        else:
            await customers.default_method(session, customer)
        subscription_id = live.id
        invoice_id = await session.scalar(
            select(Invoice.id).where(Invoice.subscription_id == live.id, Invoice.status == OPEN)
        )
    if invoice_id is not None:
        payment = await payments.collect(
            transactions, setup, invoice_id=invoice_id, now=now, on_session=True
        )
        _raise_if_failed(payment)
    async with transactions.session() as session:
        found = await session.get(Subscription, subscription_id)
        assert found is not None
        return found


async def _replace_a_different_incomplete(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    account_id: int,
    wanted: tuple[str, str, str],
    promotion_code: str | None,
    now: datetime,
) -> None:
    """Subscribing again while the first invoice is unpaid continues that subscription if the
    choice is the same; a different plan, interval, currency or a promotion code ends it
    first (its invoice voided, its payment canceled, its coupon given back)."""
    async with transactions.session() as session:
        live = await live_subscription(session, account_id=account_id)
        if live is None or live.status != INCOMPLETE:
            return
        price = await session.get(Price, live.price_id)
        assert price is not None
        if (price.plan_code, price.interval, price.currency) == wanted and not promotion_code:
            return
    replaced = await incomplete.abandon(
        transactions, setup, subscription_id=live.id, account_id=account_id, now=now
    )
    if not replaced:
        raise errors.AlreadySubscribed(
            "The payment for your earlier choice went through or is being made right now; "
            "look at your subscription before choosing again.",
            field="planCode",
        )


def _raise_if_failed(payment: Payment | None) -> None:
    if payment is not None and payment.status == FAILED:
        raise errors.PaymentFailed(
            f"The payment was declined ({payment.failure_code or 'card_declined'}). "
            "Add another payment method and try again.",
            field=None,
        )


async def _start(
    session: AsyncSession,
    *,
    customer: BillingCustomer,
    account_id: int,
    plan_code: str,
    interval: str,
    currency: str,
    country: str | None,
    promotion_code: str | None,
    now: datetime,
) -> Subscription:
    if customer.currency is not None and customer.currency != currency:
        raise errors.CurrencyMismatch(
            f"Your account is billed in {customer.currency}; it cannot change currency.",
            field="currency",
        )
    await customers.default_method(session, customer)
    price = await plans.active_price(
        session, plan_code=plan_code, currency=currency, interval=interval
    )
    redemption_id = None
    if promotion_code:
        coupon, promotion = await coupons.check_code(
            session,
            code=promotion_code,
            account_id=account_id,
            plan_code=plan_code,
            currency=currency,
            now=now,
        )
        redemption = await coupons.redeem(
            session, coupon=coupon, promotion=promotion, account_id=account_id, now=now
        )
        redemption_id = redemption.id
    customer.currency = currency
    if country is not None:
        customer.country = country
    end = period_end_after(now, now, interval)
    subscription = Subscription(
        account_id=account_id,
        price_id=price.id,
        status=INCOMPLETE,
        billing_anchor=now,
        current_period_start=now,
        current_period_end=end,
        redemption_id=redemption_id,
    )
    session.add(subscription)
    await session.flush()
    invoice = await invoicing.issue(
        session,
        customer=customer,
        subscription_id=subscription.id,
        reason=SUBSCRIPTION_CREATE,
        currency=currency,
        lines=[plans.plan_line(price, now, end)],
        redemption_id=redemption_id,
        period_start=now,
        period_end=end,
        plan_code=price.plan_code,
        now=now,
    )
    if invoice.status != OPEN:  # nothing due (a full discount or credit): active at once
        subscription.status = ACTIVE
    return subscription


@dataclass(frozen=True)
class PlanChange:
    """A change computed for a preview or to apply: when it takes effect and the invoice it
    makes now (None for a downgrade, which is billed at the next renewal)."""

    kind: plans.ChangeKind
    old_price: Price
    new_price: Price
    effective_at: datetime
    change: plans.Change | None
    draft: invoicing.Draft | None


async def _plan_change(
    session: AsyncSession,
    *,
    customer: BillingCustomer,
    subscription: Subscription,
    plan_code: str,
    interval: str,
    now: datetime,
) -> PlanChange:
    if subscription.status not in (ACTIVE,):
        raise errors.NotSubscribed(
            "Only an active subscription can change plan; settle open invoices first.",
            field="planCode",
        )
    assert customer.currency is not None
    old = await session.get(Price, subscription.price_id)
    assert old is not None
    new = await plans.active_price(
        session, plan_code=plan_code, currency=customer.currency, interval=interval
    )
    if old.plan_code == new.plan_code and old.interval == new.interval:
        if subscription.pending_price_id is None:
            raise errors.SamePlan("You are on this plan already.", field="planCode")
        return PlanChange(plans.ChangeKind.UNDO_DOWNGRADE, old, old, now, None, None)
    kind = plans.classify(old, new)
    if kind is plans.ChangeKind.DOWNGRADE:
        return PlanChange(kind, old, new, subscription.current_period_end, None, None)
    change = plans.upgrade(
        old=old,
        new=new,
        anchor=subscription.billing_anchor,
        period_start=subscription.current_period_start,
        period_end=subscription.current_period_end,
        at=now,
        paid=await plans.credit_basis(
            session,
            subscription_id=subscription.id,
            price=old,
            period_start=subscription.current_period_start,
            period_end=subscription.current_period_end,
        ),
    )
    lines = list(change.lines)
    if change.period_start != subscription.current_period_start:
        # A new period starts now: the usage of the one cut short is billed on this invoice.
        arrears = await usage.usage_line(
            session,
            subscription=subscription,
            currency=customer.currency,
            period_start=subscription.current_period_start,
            period_end=now,
        )
        if arrears is not None:
            lines.insert(0, arrears)
    draft = await invoicing.compute(
        session,
        customer=customer,
        currency=customer.currency,
        lines=lines,
        redemption_id=subscription.redemption_id,
        period_start=change.period_start,
        period_end=change.period_end,
        plan_code=new.plan_code,
    )
    return PlanChange(kind, old, new, now, change, draft)


async def preview_change(
    session: AsyncSession, *, account_id: int, plan_code: str, interval: str, now: datetime
) -> PlanChange:
    """Exactly what changePlan would do now, without doing it."""
    customer = await session.get(BillingCustomer, account_id)
    subscription = await live_subscription(session, account_id=account_id)
    if customer is None or subscription is None:
        raise errors.NotSubscribed("You have no subscription to change.", field="planCode")
    return await _plan_change(
        session,
        customer=customer,
        subscription=subscription,
        plan_code=plan_code,
        interval=interval,
        now=now,
    )


async def change_plan(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    account_id: int,
    plan_code: str,
    interval: str,
    now: datetime | None = None,
) -> tuple[Subscription, Invoice | None]:
    """Upgrade now with proration (the difference is charged at once; a negative difference
    is credited to the balance), or schedule a downgrade for the end of the period."""
    now = now or utcnow()
    async with transactions.begin() as session:
        customer = await customers.lock_customer(session, account_id=account_id)
        subscription = await live_subscription(session, account_id=account_id, lock=True)
        if subscription is None:
            raise errors.NotSubscribed("You have no subscription to change.", field="planCode")
        planned = await _plan_change(
            session,
            customer=customer,
            subscription=subscription,
            plan_code=plan_code,
            interval=interval,
            now=now,
        )
        invoice = None
        if planned.kind is plans.ChangeKind.UNDO_DOWNGRADE:
            subscription.pending_price_id = None
        elif planned.kind is plans.ChangeKind.DOWNGRADE:
            subscription.pending_price_id = planned.new_price.id
        else:
            assert planned.change is not None and planned.draft is not None
            assert customer.currency is not None
            if planned.draft.totals.amount_due > 0:
                # Refuse before anything changes: an upgrade nobody can pay for is not made.
                await customers.default_method(session, customer)
            cut_short = subscription.current_period_start
            if planned.change.anchor != subscription.billing_anchor:
                subscription.billing_anchor = planned.change.anchor
            subscription.price_id = planned.new_price.id
            subscription.pending_price_id = None
            subscription.current_period_start = planned.change.period_start
            subscription.current_period_end = planned.change.period_end
            invoice = await invoicing.issue(
                session,
                customer=customer,
                subscription_id=subscription.id,
                reason=SUBSCRIPTION_UPDATE,
                currency=customer.currency,
                lines=[
                    line for line in planned.draft.lines if line.kind != invoicing.BALANCE_CREDIT
                ],
                redemption_id=subscription.redemption_id,
                period_start=planned.change.period_start,
                period_end=planned.change.period_end,
                plan_code=planned.new_price.plan_code,
                now=now,
            )
            if planned.change.period_start != cut_short:
                await usage.mark_billed(
                    session,
                    account_id=account_id,
                    period_start=cut_short,
                    period_end=now,
                    invoice_id=invoice.id,
                )
        subscription_id = subscription.id
        invoice_id = invoice.id if invoice is not None else None
        due = invoice is not None and invoice.status == OPEN
    if due and invoice_id is not None:
        await payments.collect(transactions, setup, invoice_id=invoice_id, now=now, on_session=True)
    async with transactions.session() as session:
        found = await session.get(Subscription, subscription_id)
        assert found is not None
        return found, (await session.get(Invoice, invoice_id) if invoice_id else None)


async def set_cancel_at_period_end(
    session: AsyncSession,
    *,
    account_id: int,
    cancel: bool,
    subscription_id: int | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Cancel at the end of the period (the plan stays until then), or take that back. An
    unpaid subscription (Free already, not renewed) is canceled at once instead, its open
    invoices written off. `subscription_id`: the one the client means (a stale page must not
    act on a newer subscription)."""
    await customers.lock_customer(session, account_id=account_id)
    found = await live_subscription(session, account_id=account_id)
    if found is not None and subscription_id is not None and found.id != subscription_id:
        raise errors.NotSubscribed(
            "That subscription is not your current one.", field="subscriptionId"
        )
    if cancel:
        ended = await _end_unpaid(
            session, account_id=account_id, reason=renewals.CANCELED_BY_CUSTOMER, now=now
        )
        if ended is not None:
            return ended
    subscription = await live_subscription(session, account_id=account_id, lock=True)
    if subscription is None or subscription.status not in (ACTIVE, PAST_DUE):
        raise errors.NotSubscribed("You have no subscription to cancel.", field=None)
    subscription.cancel_at_period_end = cancel
    return subscription


async def _end_unpaid(
    session: AsyncSession, *, account_id: int, reason: str, now: datetime | None
) -> Subscription | None:
    """End the account's unpaid subscription, if it has one (the customer's lock is held)."""
    found = await live_subscription(session, account_id=account_id)
    if found is None or found.status != UNPAID:
        return None
    return await endings.end_subscription(
        session, subscription_id=found.id, reason=reason, now=now or utcnow(), only_if=(UNPAID,)
    )
