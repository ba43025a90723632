"""A subscription's end and what it leaves open. Ending one (a lost dispute, its owner
canceling or replacing it while unpaid, the sweep at an unpaid one's period end) cancels it
to Free and writes off its open invoices: marked uncollectible, still owed on paper and no
longer collected. An invoice whose payment is in flight is left to that payment; the sweep
writes off whatever an ended subscription still has open once nothing collects it
(`close_left_open`). Only the ended subscription's own invoices are touched."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit.actions import Actor, record_entry
from models.billing import customers, invoicing, past_due
from models.billing.ledger import OPEN, PENDING, UNCOLLECTIBLE, Invoice, Payment
from models.billing.renewals import CANCELED_BY_CUSTOMER, LAST_INVOICE_WINDOW
from models.billing.sweep_tally import Tally
from models.billing.tables import CANCELED, UNPAID, Subscription
from models.transactions import Transactions

log = logging.getLogger("chirp.billing")

BATCH = 100
# Cancel reasons: the sweep ended an unpaid subscription at its period's end; its owner
# subscribed again while it was unpaid.
UNPAID_ENDED = "unpaid"
RESUBSCRIBED = "resubscribed"
BILLING = Actor.system("billing")


async def end_subscription(
    session: AsyncSession,
    *,
    subscription_id: int,
    reason: str,
    now: datetime,
    only_if: tuple[str, ...] | None = None,
) -> Subscription | None:
    """Cancel a live subscription now (Free from now on) and write off its open invoices; None
    when it had ended already, or is not in one of the states `only_if` (checked under its
    lock). Takes its invoices' locks before its own (the order in which
    `payments.apply_intent_result` locks them); callers hold the customer's lock."""
    invoices = await _lock_open_invoices(session, Invoice.subscription_id == subscription_id)
    subscription = await customers.lock_subscription(session, subscription_id)
    if subscription is None or subscription.status == CANCELED:
        return None
    if only_if is not None and subscription.status not in only_if:
        return None
    subscription.status, subscription.canceled_at = CANCELED, now
    subscription.cancel_reason = reason
    subscription.cancel_at_period_end = subscription.frozen = False
    past_due.clear(subscription)
    await write_off(session, invoices=invoices, why=f"subscription ended: {reason}")
    # Written now, so a new live subscription of the account can be inserted after it.
    await session.flush()
    log.info("subscription %d ended (%s)", subscription.id, reason)
    return subscription


async def write_off(session: AsyncSession, *, invoices: list[Invoice], why: str) -> int:
    """Mark the (locked) open invoices uncollectible, except one whose payment is in flight:
    its outcome decides (paid, or written off by the sweep after it failed); the credit
    balance each used is given back. Audited. Callers hold the customer's lock."""
    ids = [invoice.id for invoice in invoices if invoice.status == OPEN]
    if not ids:
        return 0
    collecting = set(
        await session.scalars(
            select(Payment.invoice_id).where(Payment.invoice_id.in_(ids), Payment.status == PENDING)
        )
    )
    closed = 0
    for invoice in invoices:
        if invoice.id not in ids or invoice.id in collecting:
            continue
        invoice.status = UNCOLLECTIBLE
        closed += 1
        # The customer's credit it used goes back to the balance: nothing more is collected
        # for a subscription that has ended, so the credit must not be spent on it.
        returned = 0
        if invoice.credit_applied and invoice.account_id is not None:
            customer = await customers.lock_customer(session, account_id=invoice.account_id)
            customer.credit_balance += invoice.credit_applied
            returned = invoice.credit_applied
        await record_entry(
            session,
            actor=BILLING,
            action="billing.invoice.mark_uncollectible",
            target_type="invoice",
            target_id=invoice.id,
            reason=why,
            before={"status": OPEN, "number": invoice.number},
            after={"status": UNCOLLECTIBLE, "number": invoice.number, "credit_returned": returned},
        )
    return closed


async def _lock_open_invoices(session: AsyncSession, where: ColumnElement[bool]) -> list[Invoice]:
    rows = await session.scalars(
        select(Invoice)
        .where(where, Invoice.status == OPEN)
        .order_by(Invoice.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def due(session: AsyncSession, *, now: datetime) -> bool:
    """Whether `end_due` has anything to do at `now` (a cheap look before taking locks)."""
    for stmt in (_unpaid_over(now), _left_open(now)):
        if await session.scalar(stmt.limit(1)) is not None:
            return True
    return False


def _unpaid_over(now: datetime) -> Select[int, int]:
    return select(Subscription.id, Subscription.account_id).where(
        Subscription.status == UNPAID, Subscription.current_period_end <= now
    )


def _left_open(now: datetime) -> Select[int, int]:
    """Open invoices of ended subscriptions that nothing collects any more: no payment in
    flight, and not the last invoice of one its owner canceled at the period's end while
    the sweep still collects it (`renewals.LAST_INVOICE_WINDOW`)."""
    collecting = exists().where(Payment.invoice_id == Invoice.id, Payment.status == PENDING)
    collected = and_(
        Subscription.cancel_reason == CANCELED_BY_CUSTOMER,
        Invoice.finalized_at >= Subscription.canceled_at,
        Invoice.finalized_at > now - LAST_INVOICE_WINDOW,
    )
    return (
        select(Invoice.id, Invoice.account_id)
        .join(Subscription, Subscription.id == Invoice.subscription_id)
        .where(
            Invoice.status == OPEN,
            Invoice.account_id.is_not(None),
            Subscription.status == CANCELED,
            ~collecting,
            ~collected,
        )
    )


async def end_due(transactions: Transactions, *, now: datetime, limit: int = BATCH) -> Tally:
    """End the unpaid subscriptions whose period is over, then write off the invoices ended
    subscriptions left open; `done` counts both. One that fails is logged and counted."""
    tally = Tally()
    async with transactions.session() as session:
        rows = (
            await session.execute(_unpaid_over(now).order_by(Subscription.id).limit(limit))
        ).all()
    for subscription_id, account_id in rows:
        with tally.isolated(
            "ending an unpaid subscription", subscription_id=subscription_id, account_id=account_id
        ):
            tally.done += await _end_unpaid(transactions, subscription_id, account_id, now)
    async with transactions.session() as session:
        rows = (await session.execute(_left_open(now).order_by(Invoice.id).limit(limit))).all()
    for invoice_id, account_id in rows:
        with tally.isolated("writing off an ended subscription's invoice", invoice_id=invoice_id):
            tally.done += await _close_left_open(transactions, invoice_id, account_id, now)
    return tally


async def _end_unpaid(
    transactions: Transactions, subscription_id: int, account_id: int, now: datetime
) -> int:
    async with transactions.begin() as session:
        await customers.lock_customer(session, account_id=account_id)
        found = await session.get(Subscription, subscription_id, populate_existing=True)
        if found is None or found.status != UNPAID or found.current_period_end > now:
            return 0
        reason = CANCELED_BY_CUSTOMER if found.cancel_at_period_end else UNPAID_ENDED
        ended = await end_subscription(
            session,
            subscription_id=subscription_id,
            reason=reason,
            now=found.current_period_end,
            only_if=(UNPAID,),
        )
        return 0 if ended is None else 1


async def _close_left_open(
    transactions: Transactions, invoice_id: int, account_id: int, now: datetime
) -> int:
    async with transactions.begin() as session:
        # The customer's lock first, as payments.collect takes it before creating a payment.
        await customers.lock_customer(session, account_id=account_id)
        invoice = await invoicing.lock_invoice(session, invoice_id=invoice_id)
        if invoice is None or invoice.status != OPEN or invoice.subscription_id is None:
            return 0
        still = await session.scalar(
            _left_open(now).where(Invoice.id == invoice_id).with_only_columns(Invoice.id)
        )
        if still is None:
            return 0
        return await write_off(session, invoices=[invoice], why="its subscription has ended")
