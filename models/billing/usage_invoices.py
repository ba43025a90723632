"""An annual plan's metered usage, invoiced month by month rather than a year in arrears:
when a month of service (from the billing anchor) inside the annual period is over, one
invoice (reason `subscription_usage`) bills the month's calls above the monthly included ones,
and `usage_billed_until` moves to the month's end so no later event is counted in it. The
period's last month is billed by the renewal, as a monthly plan's usage is. A month with
nothing above its allowance gets no invoice. Locks the customer, then the subscription, and
checks again under them, as renewals do, so sweepers never bill a month twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.billing import customers, invoicing, renewals, usage
from models.billing.ledger import OPEN
from models.billing.pricing import period_end_after
from models.billing.setup import BillingSetup
from models.billing.sweep_tally import Tally
from models.billing.tables import ACTIVE, MONTH, PAST_DUE, YEAR, Price, Subscription
from models.transactions import Transactions

SUBSCRIPTION_USAGE = "subscription_usage"
BATCH = 100
# No month is shorter: a subscription whose usage is invoiced up to less recently than this
# may have a month to close (checked exactly in Python).
SHORTEST_MONTH = timedelta(days=28)


def _candidates(now: datetime) -> Select[int, int]:
    since = now - SHORTEST_MONTH
    return (
        select(Subscription.id, Subscription.account_id)
        .join(Price, Price.id == Subscription.price_id)
        .where(
            Price.interval == YEAR,
            Subscription.status.in_((ACTIVE, PAST_DUE)),
            Subscription.current_period_end > now,
            or_(
                and_(
                    or_(
                        Subscription.usage_billed_until.is_(None),
                        Subscription.usage_billed_until < Subscription.current_period_start,
                    ),
                    Subscription.current_period_start <= since,
                ),
                Subscription.usage_billed_until.between(Subscription.current_period_start, since),
            ),
        )
    )


def month_closed(subscription: Subscription, now: datetime) -> datetime | None:
    """The last month boundary at or before `now` inside the current period that the usage
    is not invoiced up to yet; None when no month is to close."""
    start = usage.open_usage_start(subscription)
    boundary = None
    end = period_end_after(subscription.billing_anchor, start, MONTH)
    while end <= now and end < subscription.current_period_end:
        boundary = end
        end = period_end_after(subscription.billing_anchor, end, MONTH)
    return boundary


async def due(session: AsyncSession, *, now: datetime) -> bool:
    """Whether some annual subscription may have a month of usage to invoice (a cheap look)."""
    return await session.scalar(_candidates(now).limit(1)) is not None


async def bill_closed_months(
    transactions: Transactions, setup: BillingSetup, *, now: datetime, limit: int = BATCH
) -> Tally:
    """Invoice the usage of the months that are over of every annual subscription, then
    collect each invoice; `done` counts the invoices issued."""
    async with transactions.session() as session:
        rows = (
            await session.execute(_candidates(now).order_by(Subscription.id).limit(limit))
        ).all()
    tally = Tally()
    for subscription_id, account_id in rows:
        invoice_id = None
        with tally.isolated(
            "invoicing a month of usage", subscription_id=subscription_id, account_id=account_id
        ):
            invoice_id = await _bill(transactions, subscription_id, account_id, now)
        if invoice_id is None:
            continue
        tally.done += 1
        with tally.isolated(
            "collecting a usage invoice", invoice_id=invoice_id, subscription_id=subscription_id
        ):
            await renewals.collect(transactions, setup, invoice_id=invoice_id, now=now)
    return tally


async def _bill(
    transactions: Transactions, subscription_id: int, account_id: int, now: datetime
) -> int | None:
    """The open invoice to collect, if this call issued one."""
    async with transactions.begin() as session:
        customer = await customers.lock_customer(session, account_id=account_id)
        subscription = await customers.lock_subscription(session, subscription_id)
        if subscription is None or subscription.status not in (ACTIVE, PAST_DUE):
            return None
        price = await session.get(Price, subscription.price_id)
        boundary = month_closed(subscription, now)
        if price is None or price.interval != YEAR or boundary is None:
            return None
        assert customer.currency is not None
        start = usage.open_usage_start(subscription)
        line = await usage.usage_line(
            session,
            subscription=subscription,
            currency=customer.currency,
            period_start=start,
            period_end=boundary,
        )
        subscription.usage_billed_until = boundary
        if line is None:
            return None
        invoice = await invoicing.issue(
            session,
            customer=customer,
            subscription_id=subscription.id,
            reason=SUBSCRIPTION_USAGE,
            currency=customer.currency,
            lines=[line],
            redemption_id=subscription.redemption_id,
            period_start=start,
            period_end=boundary,
            plan_code=price.plan_code,
            now=now,
            usage_only=True,
        )
        await usage.mark_billed(
            session,
            account_id=account_id,
            period_start=start,
            period_end=boundary,
            invoice_id=invoice.id,
        )
        return invoice.id if invoice.status == OPEN else None
