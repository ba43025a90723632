"""Revenue figures for administrators, per currency: MRR, subscribers, churn and the rate
of failed payments. Each figure is one aggregate query; nothing is converted between
currencies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.billing import money
from models.billing.ledger import FAILED, Payment
from models.billing.tables import (
    ACTIVE,
    CANCELED,
    INCOMPLETE,
    MONTH,
    PAST_DUE,
    YEAR,
    Price,
    Subscription,
)

WINDOW = timedelta(days=30)
# Subscriptions that are paying (or being dunned and still entitled): they count in MRR.
PAYING = (ACTIVE, PAST_DUE)


@dataclass(frozen=True)
class Revenue:
    currency: str
    as_of: datetime
    window_start: datetime
    # List prices (coupons not deducted); an annual price counts as a twelfth per month.
    mrr: int
    active_subscribers: int
    subscribers_at_window_start: int
    canceled_in_window: int
    payments_in_window: int
    failed_payments_in_window: int

    @property
    def churn_rate(self) -> float | None:
        if not self.subscribers_at_window_start:
            return None
        return self.canceled_in_window / self.subscribers_at_window_start

    @property
    def failed_payment_rate(self) -> float | None:
        if not self.payments_in_window:
            return None
        return self.failed_payments_in_window / self.payments_in_window


async def revenue(session: AsyncSession, *, currency: str, now: datetime) -> Revenue:
    """Where revenue in `currency` stands at `now`, over the 30 days before it."""
    currency = money.check_currency(currency)
    start = now - WINDOW
    in_currency = and_(Price.id == Subscription.price_id, Price.currency == currency)
    by_interval = dict(
        (
            await session.execute(
                select(Price.interval, func.coalesce(func.sum(Price.amount), 0))
                .select_from(Subscription)
                .join(Price, in_currency)
                .where(Subscription.status.in_(PAYING))
                .group_by(Price.interval)
            )
        ).all()
    )
    active = await session.scalar(
        select(func.count())
        .select_from(Subscription)
        .join(Price, in_currency)
        .where(Subscription.status.in_(PAYING))
    )
    # Live at the window's start: begun before it (and paid for: never left incomplete) and
    # not canceled by then.
    at_start = await session.scalar(
        select(func.count())
        .select_from(Subscription)
        .join(Price, in_currency)
        .where(
            Subscription.created_at < start,
            Subscription.status != INCOMPLETE,
            or_(Subscription.canceled_at.is_(None), Subscription.canceled_at >= start),
        )
    )
    canceled = await session.scalar(
        select(func.count())
        .select_from(Subscription)
        .join(Price, in_currency)
        .where(
            Subscription.status == CANCELED,
            Subscription.created_at < start,
            Subscription.canceled_at >= start,
            Subscription.canceled_at < now,
        )
    )
    payments = (
        await session.execute(
            select(func.count(), func.count().filter(Payment.status == FAILED)).where(
                Payment.currency == currency, Payment.created_at >= start, Payment.created_at < now
            )
        )
    ).one()
    monthly = int(by_interval.get(MONTH, 0)) + money.share(int(by_interval.get(YEAR, 0)), 1, 12)
    return Revenue(
        currency=currency,
        as_of=now,
        window_start=start,
        mrr=monthly,
        active_subscribers=int(active or 0),
        subscribers_at_window_start=int(at_start or 0),
        canceled_in_window=int(canceled or 0),
        payments_in_window=int(payments[0]),
        failed_payments_in_window=int(payments[1]),
    )
