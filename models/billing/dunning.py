"""Dunning: what a failed payment does to a subscription, step by step.

The first failure makes it past due (`past_due.start`): its plan stays on until
`grace_ends_at` and its open invoices are retried at `BillingSetup.retry_days` after that
failure (`retry_due`). When the retries are spent and the grace is over it is unpaid: Free
entitlements, invoices still open, nothing deleted. Paying every open invoice (a retry, a
webhook, or a new card: `update_payment_method_and_settle`) makes it active again. Each
step emails the owner once, keyed by the subscription, the failure's time and the step."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.billing import customers, errors, notices, payments
from models.billing.ledger import OPEN, Invoice, Payment
from models.billing.setup import BillingSetup
from models.billing.sweep_tally import Tally
from models.billing.tables import PAST_DUE, UNPAID, PaymentMethod, Subscription
from models.transactions import Transactions

log = logging.getLogger("chirp.billing")

BATCH = 100
# Stripe did not answer during a retry: try again this soon, without counting the step.
RETRY_WHEN_UNAVAILABLE = timedelta(hours=1)


async def due(session: AsyncSession, *, now: datetime) -> bool:
    """Whether `retry_due` has anything to do at `now` (a cheap look before taking locks)."""
    found = await session.scalar(
        select(Subscription.id).where(*_retry_due(now)).limit(1)
    ) or await session.scalar(select(Subscription.id).where(*_grace_over(now)).limit(1))
    return found is not None


@dataclass(frozen=True)
class _Claim:
    subscription_id: int
    account_id: int
    step: int
    since: datetime
    invoice_ids: list[int]


async def retry_due(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    now: datetime,
    limit: int = BATCH,
) -> Tally:
    """Retry the open invoices of past-due subscriptions whose retry is due, then move those
    whose retries are spent and grace is over to unpaid; `done` counts those that changed.
    One that fails is logged and counted, and the others go on."""
    async with transactions.session() as session:
        rows = (
            await session.execute(
                select(Subscription.id, Subscription.account_id)
                .where(*_retry_due(now))
                .order_by(Subscription.next_retry_at, Subscription.id)
                .limit(limit)
            )
        ).all()
    tally = Tally()
    for subscription_id, account_id in rows:
        with tally.isolated(
            "a dunning retry", subscription_id=subscription_id, account_id=account_id
        ):
            tally.done += await _retry(transactions, setup, tally, subscription_id, account_id, now)
    await _fall_back_to_free(transactions, tally, now=now, limit=limit)
    return tally


async def _retry(
    transactions: Transactions,
    setup: BillingSetup,
    tally: Tally,
    subscription_id: int,
    account_id: int,
    now: datetime,
) -> int:
    claim = await _claim(transactions, setup, subscription_id, account_id, now)
    if claim is None:
        return 0  # another sweeper took this step, or it was paid meanwhile
    unavailable = False
    for invoice_id in claim.invoice_ids:
        # Any other error counts as this step's failure for that invoice: the schedule
        # goes on rather than retrying, hourly and forever, what will fail the same way.
        with tally.isolated(
            "retrying an invoice", invoice_id=invoice_id, subscription_id=subscription_id
        ):
            try:
                await payments.collect(transactions, setup, invoice_id=invoice_id, now=now)
            except errors.NoPaymentMethod:
                break  # the failure email asks for a card
            except errors.PaymentProcessorUnavailable:
                unavailable = True
                break
    await _conclude(transactions, claim, now=now, unavailable=unavailable)
    return 1


def _retry_due(now: datetime) -> list[ColumnElement[bool]]:
    return [Subscription.status == PAST_DUE, Subscription.next_retry_at <= now]


def _grace_over(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Subscription.status == PAST_DUE,
        Subscription.next_retry_at.is_(None),
        Subscription.grace_ends_at <= now,
    ]


async def _claim(
    transactions: Transactions,
    setup: BillingSetup,
    subscription_id: int,
    account_id: int,
    now: datetime,
) -> _Claim | None:
    """Take the retry step under the locks and commit before any Stripe call, so two
    sweepers never make the same retry. Steps missed while no sweeper ran are skipped."""
    async with transactions.begin() as session:
        await customers.lock_customer(session, account_id=account_id)
        subscription = await customers.lock_subscription(session, subscription_id)
        if (
            subscription is None
            or subscription.status != PAST_DUE
            or subscription.next_retry_at is None
            or subscription.next_retry_at > now
            or subscription.past_due_since is None
        ):
            return None
        since = subscription.past_due_since
        times = [since + timedelta(days=days) for days in setup.retry_days]
        step = max(subscription.retry_step + 1, sum(1 for t in times if t <= now))
        subscription.retry_step = step
        subscription.next_retry_at = times[step] if step < len(times) else None
        invoice_ids = await _open_invoice_ids(session, subscription_id)
        return _Claim(subscription_id, account_id, step, since, invoice_ids)


async def _conclude(
    transactions: Transactions,
    claim: _Claim,
    *,
    now: datetime,
    unavailable: bool,
) -> None:
    async with transactions.begin() as session:
        await customers.lock_customer(session, account_id=claim.account_id)
        subscription = await customers.lock_subscription(session, claim.subscription_id)
        if (
            subscription is None
            or subscription.status != PAST_DUE
            or subscription.past_due_since != claim.since
        ):
            return  # paid (restored, and told so) or canceled meanwhile
        if unavailable:
            subscription.retry_step = claim.step - 1
            subscription.next_retry_at = now + RETRY_WHEN_UNAVAILABLE
            return
        if not await _open_invoice_ids(session, claim.subscription_id):
            await payments.settle_subscription(session, subscription=subscription, now=now)
            return
        await notices.send_payment_failed(session, subscription=subscription, attempt=claim.step)
        if subscription.next_retry_at is None and _grace_over_now(subscription, now):
            await _to_unpaid(session, subscription)


def _grace_over_now(subscription: Subscription, now: datetime) -> bool:
    return subscription.grace_ends_at is not None and subscription.grace_ends_at <= now


async def _fall_back_to_free(
    transactions: Transactions, tally: Tally, *, now: datetime, limit: int
) -> None:
    async with transactions.session() as session:
        rows = (
            await session.execute(
                select(Subscription.id, Subscription.account_id)
                .where(*_grace_over(now))
                .order_by(Subscription.grace_ends_at, Subscription.id)
                .limit(limit)
            )
        ).all()
    for subscription_id, account_id in rows:
        with tally.isolated(
            "moving to unpaid", subscription_id=subscription_id, account_id=account_id
        ):
            tally.done += await _fall_to_unpaid(transactions, subscription_id, account_id, now)


async def _fall_to_unpaid(
    transactions: Transactions,
    subscription_id: int,
    account_id: int,
    now: datetime,
) -> int:
    async with transactions.begin() as session:
        await customers.lock_customer(session, account_id=account_id)
        subscription = await customers.lock_subscription(session, subscription_id)
        if (
            subscription is None
            or subscription.status != PAST_DUE
            or subscription.next_retry_at is not None
            or not _grace_over_now(subscription, now)
        ):
            return 0
        if not await _open_invoice_ids(session, subscription_id):
            # Nothing is owed any more (voided, written off, or paid outside a retry).
            await payments.settle_subscription(session, subscription=subscription, now=now)
        else:
            await _to_unpaid(session, subscription)
        return 1


async def _to_unpaid(session: AsyncSession, subscription: Subscription) -> None:
    """Free entitlements from now; the open invoices stay open for the owner to pay."""
    subscription.status = UNPAID
    await notices.send_moved_to_free(session, subscription=subscription)
    log.info("subscription %d is unpaid: free entitlements", subscription.id)


async def _open_invoice_ids(session: AsyncSession, subscription_id: int) -> list[int]:
    rows = await session.scalars(
        select(Invoice.id)
        .where(Invoice.subscription_id == subscription_id, Invoice.status == OPEN)
        .order_by(Invoice.id)
    )
    return list(rows)


async def update_payment_method_and_settle(
    transactions: Transactions,
    setup: BillingSetup,
    *,
    account_id: int,
    stripe_payment_method_id: str,
    now: datetime | None = None,
) -> tuple[PaymentMethod, list[Payment]]:
    """Add a card as the default and pay every open invoice with it: a past-due or unpaid
    subscription whose invoices are all paid is active again."""
    method = await customers.add_payment_method(
        transactions,
        setup.gateway,
        account_id=account_id,
        stripe_payment_method_id=stripe_payment_method_id,
        make_default=True,
        recreate_lost_customer=setup.recreate_lost_customers,
    )
    paid = await payments.pay_open_invoices(
        transactions, setup, account_id=account_id, now=now or utcnow()
    )
    return method, paid
