"""Renewals: at the end of each period, one invoice bills the period's usage in arrears and
the next period in advance (at the pending downgrade's price, if any); a subscription set
to cancel ends instead, its usage still billed. Every step locks the customer, then the
subscription, and re-checks under the locks, so sweepers in several processes never bill a
period twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.billing import customers, errors, invoicing, past_due, payments, plans, usage
from models.billing.ledger import (
    FAILED,
    OPEN,
    SUBSCRIPTION_CYCLE,
    Invoice,
    Payment,
)
from models.billing.pricing import period_end_after
from models.billing.setup import BillingSetup
from models.billing.sweep_tally import Tally
from models.billing.tables import (
    ACTIVE,
    CANCELED,
    PAST_DUE,
    BillingCustomer,
    Price,
    Subscription,
)
from models.transactions import Transactions

log = logging.getLogger("chirp.billing")

BATCH = 100
CANCELED_BY_CUSTOMER = "canceled_by_customer"
# A renewal or an upgrade collects its invoice right after commit; one still never tried
# this long after (the process died, Stripe did not answer) is collected by the sweep.
COLLECT_AFTER = timedelta(minutes=10)
# The last invoice of a subscription its owner canceled is collected by the sweep this long;
# no dunning follows a canceled subscription, so it is not tried forever without a card.
LAST_INVOICE_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Cycle:
    """What the renewal at the end of the current period bills, and the period after it
    (`price` None: the subscription ends there)."""

    lines: list[invoicing.LineSpec]
    price: Price | None
    period_start: datetime
    period_end: datetime
    anchor: datetime
    plan_code: str  # the plan the invoice bills: the next period's, or the ended one's


async def next_cycle(session: AsyncSession, *, subscription: Subscription, currency: str) -> Cycle:
    """The renewal's lines: the ended period's usage, then the next period's plan."""
    ended_start, ended_end = subscription.current_period_start, subscription.current_period_end
    line = await usage.usage_line(
        session,
        subscription=subscription,
        currency=currency,
        period_start=ended_start,
        period_end=ended_end,
    )
    lines = [line] if line is not None else []
    current = await session.get(Price, subscription.price_id)
    assert current is not None
    if subscription.cancel_at_period_end:
        return Cycle(
            lines, None, ended_start, ended_end, subscription.billing_anchor, current.plan_code
        )
    price = current
    if subscription.pending_price_id is not None:
        pending = await session.get(Price, subscription.pending_price_id)
        assert pending is not None
        price = pending
    # A downgrade to another interval starts its own cycle at the renewal, rather than a
    # first period cut short to fit the old anchor.
    anchor = subscription.billing_anchor if price.interval == current.interval else ended_end
    end = period_end_after(anchor, ended_end, price.interval)
    lines.append(plans.plan_line(price, ended_end, end))
    return Cycle(lines, price, ended_end, end, anchor, price.plan_code)


async def upcoming_invoice(
    session: AsyncSession, *, account_id: int, now: datetime
) -> invoicing.Draft | None:
    """What the next renewal will bill as things stand at `now` (usage so far included);
    None without an active or past-due subscription, or when it would bill nothing."""
    subscription = await session.scalar(
        select(Subscription).where(
            Subscription.account_id == account_id,
            Subscription.status.in_((ACTIVE, PAST_DUE)),
        )
    )
    customer = await session.get(BillingCustomer, account_id)
    if subscription is None or customer is None or customer.currency is None:
        return None
    cycle = await next_cycle(session, subscription=subscription, currency=customer.currency)
    if not cycle.lines:
        return None
    return await invoicing.compute(
        session,
        customer=customer,
        currency=customer.currency,
        lines=cycle.lines,
        redemption_id=subscription.redemption_id,
        period_start=cycle.period_start,
        period_end=cycle.period_end,
        plan_code=cycle.plan_code,
    )


async def due(session: AsyncSession, *, now: datetime) -> bool:
    """Whether a renewal or a collection is due at `now` (a cheap look before locking)."""
    for stmt in (_renewals_due(now), _uncollected(now)):
        if await session.scalar(stmt.limit(1)) is not None:
            return True
    return False


def _renewals_due(now: datetime) -> Select[int, int]:
    return select(Subscription.id, Subscription.account_id).where(
        Subscription.status.in_((ACTIVE, PAST_DUE)), Subscription.current_period_end <= now
    )


async def renew_due(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    now: datetime,
    limit: int = BATCH,
) -> Tally:
    """Renew (or end) the subscriptions whose period is over at `now`, then collect each
    invoice; `done` counts those renewed or ended. One period per subscription per call; a
    renewal or a collection that fails is logged and counted, and the others go on."""
    async with transactions.session() as session:
        rows = (
            await session.execute(
                _renewals_due(now).order_by(Subscription.current_period_end).limit(limit)
            )
        ).all()
    tally = Tally()
    for subscription_id, account_id in rows:
        invoice_id = None
        with tally.isolated(
            "renewing a subscription", subscription_id=subscription_id, account_id=account_id
        ):
            done, invoice_id = await _renew(transactions, subscription_id, account_id, now)
            tally.done += done  # not done: renewed by another sweeper, or changed meanwhile
        if invoice_id is None:
            continue
        with tally.isolated(
            "collecting a renewal invoice", invoice_id=invoice_id, subscription_id=subscription_id
        ):
            await collect(transactions, setup, invoice_id=invoice_id, now=now)
    return tally


async def _renew(
    transactions: Transactions,
    subscription_id: int,
    account_id: int,
    now: datetime,
) -> tuple[bool, int | None]:
    """Whether it was renewed (or ended) by this call, and the open invoice to collect."""
    async with transactions.begin() as session:
        customer = await customers.lock_customer(session, account_id=account_id)
        subscription = await customers.lock_subscription(session, subscription_id)
        if (
            subscription is None
            or subscription.status not in (ACTIVE, PAST_DUE)
            or subscription.current_period_end > now
        ):
            return False, None
        assert customer.currency is not None
        cycle = await next_cycle(session, subscription=subscription, currency=customer.currency)
        ended = subscription.current_period_start, subscription.current_period_end
        if cycle.price is None:
            subscription.status = CANCELED
            subscription.canceled_at = ended[1]
            subscription.cancel_reason = CANCELED_BY_CUSTOMER
            past_due.clear(subscription)
        else:
            subscription.price_id = cycle.price.id
            subscription.pending_price_id = None
            subscription.billing_anchor = cycle.anchor
            subscription.current_period_start = cycle.period_start
            subscription.current_period_end = cycle.period_end
        if not cycle.lines:
            return True, None
        invoice = await invoicing.issue(
            session,
            customer=customer,
            subscription_id=subscription.id,
            reason=SUBSCRIPTION_CYCLE,
            currency=customer.currency,
            lines=cycle.lines,
            redemption_id=subscription.redemption_id,
            period_start=cycle.period_start,
            period_end=cycle.period_end,
            plan_code=cycle.plan_code,
            now=now,
        )
        await usage.mark_billed(
            session,
            account_id=account_id,
            period_start=ended[0],
            period_end=ended[1],
            invoice_id=invoice.id,
        )
        return True, invoice.id if invoice.status == OPEN else None


async def collect(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    invoice_id: int,
    now: datetime,
) -> None:
    """Collect an invoice of a subscription. A decline starts dunning
    (`payments.apply_intent_result`); so does having no card. If Stripe does not answer, the
    sweep collects it later."""
    try:
        await payments.collect(transactions, setup, invoice_id=invoice_id, now=now)
    except errors.NoPaymentMethod:
        await _start_dunning(transactions, setup, invoice_id=invoice_id, now=now)
    except errors.PaymentProcessorUnavailable:
        log.warning("collecting invoice %d: Stripe did not answer; the sweep retries", invoice_id)


async def _start_dunning(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    invoice_id: int,
    now: datetime,
) -> None:
    async with transactions.begin() as session:
        invoice = await session.get(Invoice, invoice_id)
        if invoice is None or invoice.subscription_id is None:
            return
        await customers.lock_customer(session, account_id=invoice.account_id)
        subscription = await customers.lock_subscription(session, invoice.subscription_id)
        if subscription is not None and subscription.status == ACTIVE:
            await past_due.start(
                session, setup, subscription=subscription, invoice=invoice, now=now
            )


def _uncollected(now: datetime) -> Select[int]:
    """Open invoices nobody is collecting, whatever their reason: of an active subscription
    (a past-due one is the dunning schedule's), or the last one of a subscription its owner
    canceled; issued `COLLECT_AFTER` ago and never declined (a decline started dunning). A
    pending payment, with or without its Stripe intent, is continued with its own idempotency
    keys; one another caller is still working on is left to it (`payments.collect`)."""
    failed = exists().where(Payment.invoice_id == Invoice.id, Payment.status == FAILED)
    live = or_(
        Subscription.status == ACTIVE,
        and_(
            Subscription.status == CANCELED,
            Subscription.cancel_reason == CANCELED_BY_CUSTOMER,
            Invoice.finalized_at > now - LAST_INVOICE_WINDOW,
        ),
    )
    return (
        select(Invoice.id)
        .join(Subscription, Subscription.id == Invoice.subscription_id)
        .where(
            Invoice.status == OPEN,
            Invoice.finalized_at <= now - COLLECT_AFTER,
            live,
            ~failed,
        )
    )


async def collect_uncollected(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    now: datetime,
    limit: int = BATCH,
) -> Tally:
    """Collect the open invoices nobody is collecting (`_uncollected`): renewals, upgrades,
    a last usage invoice; `done` counts those tried. No card starts dunning; a collection
    that fails is logged and counted, and the others go on."""
    async with transactions.session() as session:
        rows = (
            await session.execute(
                _uncollected(now)
                .add_columns(Invoice.subscription_id)
                .order_by(Invoice.id)
                .limit(limit)
            )
        ).all()
    tally = Tally()
    for invoice_id, subscription_id in rows:
        with tally.isolated(
            "collecting an open invoice", invoice_id=invoice_id, subscription_id=subscription_id
        ):
            await collect(transactions, setup, invoice_id=invoice_id, now=now)
            tally.done += 1
    return tally
