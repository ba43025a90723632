"""How a subscription ends and what becomes of its money: a dispute acts on the subscription its
charge paid for, never on the account's newer one; an unpaid subscription can be canceled,
replaced by a new one, and is ended by the sweep at its period's end; and the open invoices
of an ended subscription are closed (uncollectible), never left open. Issue 12, defects 4-6,
on the in-memory payment gateway (docs/billing.md, Dunning and Disputes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.billing import disputes, entitlements, errors, payments, subscriptions
from models.billing.gateway import IntentResult
from models.billing.ledger import (
    FAILED,
    OPEN,
    PAID,
    PENDING,
    SUCCEEDED,
    UNCOLLECTIBLE,
    Invoice,
    Payment,
)
from models.billing.setup import BillingSetup
from models.billing.sweep import BillingSweep
from models.billing.tables import ACTIVE, CANCELED, PAST_DUE, UNPAID, Subscription
from models.transactions import Transactions
from tests.support.domain_billing import add_card, customer, subscribe
from tests.support.memory_gateway import DECLINED_ON_CHARGE, GOOD_CARD

Sessions = async_sessionmaker[AsyncSession]

JAN_31 = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
FEB_28 = datetime(2030, 2, 28, 12, 0, tzinfo=UTC)
MAR_31 = datetime(2030, 3, 31, 12, 0, tzinfo=UTC)


async def _sweep(sessions: Sessions, setup: BillingSetup, now: datetime) -> None:
    await BillingSweep(Transactions(sessions), sessions, setup).sweep(now=now)


async def _subscription(sessions: Sessions, subscription_id: int) -> Subscription:
    async with sessions() as session:
        found = await session.get(Subscription, subscription_id)
    assert found is not None
    return found


async def _invoices(sessions: Sessions, subscription_id: int) -> list[Invoice]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Invoice).where(Invoice.subscription_id == subscription_id).order_by(Invoice.id)
        )
        return list(rows)


async def _money(sessions: Sessions, subscription_id: int) -> tuple[Any, ...]:
    """Everything that says what a subscription was paid, owes and gets."""
    found = await _subscription(sessions, subscription_id)
    return (
        found.status,
        found.frozen,
        found.cancel_reason,
        found.price_id,
        [
            (i.id, i.status, i.amount_due, i.amount_paid, i.amount_refunded, i.credit_applied)
            for i in await _invoices(sessions, subscription_id)
        ],
    )


async def _dunned(sessions: Sessions, setup: BillingSetup, handle: str, *, unpaid: bool) -> int:
    """A Plus subscriber since Jan 31 whose Feb 28 renewal was declined: past due, or unpaid
    once grace (7 days) and the retries (days 1, 3, 5) are over. Its subscription's id."""
    account_id = await customer(sessions, setup, handle)
    subscription = await subscribe(sessions, setup, account_id, now=JAN_31)
    await add_card(sessions, setup, account_id, DECLINED_ON_CHARGE)
    for days in (0, 1, 3, 5, 7) if unpaid else (0,):
        await _sweep(sessions, setup, FEB_28 + timedelta(days=days))
    assert (await _subscription(sessions, subscription.id)).status == (
        UNPAID if unpaid else PAST_DUE
    )
    return subscription.id


async def _dispute(
    sessions: Sessions,
    setup: BillingSetup,
    subscription_id: int,
    dispute_id: str,
    status: str,
    at: datetime,
) -> None:
    """Stripe's dispute event of the first charge of the subscription, as the webhook applies it."""
    async with sessions() as session:
        payment = await session.scalar(
            select(Payment)
            .join(Invoice, Invoice.id == Payment.invoice_id)
            .where(
                Invoice.subscription_id == subscription_id, Payment.stripe_charge_id.is_not(None)
            )
            .order_by(Payment.id)
        )
    assert payment is not None
    dispute = {
        "id": dispute_id,
        "object": "dispute",
        "amount": payment.amount,
        "charge": payment.stripe_charge_id,
        "payment_intent": payment.stripe_payment_intent_id,
        "currency": payment.currency.lower(),
        "reason": "fraudulent",
        "status": status,
        "created": int(at.timestamp()),
    }
    async with sessions() as session, session.begin():
        await disputes.sync_dispute(session, setup, dispute=dispute, occurred_at=at, now=at)


async def _old_plus_and_new_pro(sessions: Sessions, setup: BillingSetup) -> tuple[int, int, int]:
    """Ada's Plus from Jan 31, canceled at its period's end (Feb 28), then Pro from Mar 1:
    (account, old subscription, new subscription)."""
    ada = await customer(sessions, setup, "ada")
    old = await subscribe(sessions, setup, ada, "plus", now=JAN_31)
    async with sessions() as session, session.begin():
        await subscriptions.set_cancel_at_period_end(session, account_id=ada, cancel=True)
    await _sweep(sessions, setup, FEB_28)
    assert (await _subscription(sessions, old.id)).status == CANCELED
    new = await subscribe(sessions, setup, ada, "pro", now=FEB_28 + timedelta(days=1))
    assert new.status == ACTIVE
    return ada, old.id, new.id


# Defect 4: a dispute acts on the subscription its charge paid for.


async def test_a_dispute_over_an_old_subscriptions_charge_leaves_the_new_one_alone(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada, old, new = await _old_plus_and_new_pro(db_sessionmaker, billing_setup)
    opened = FEB_28 + timedelta(days=2)

    await _dispute(db_sessionmaker, billing_setup, old, "dp_old", "needs_response", opened)

    assert (await _subscription(db_sessionmaker, new)).frozen is False
    async with db_sessionmaker() as session:
        assert await entitlements.current_plan(session, account_id=ada, now=opened) == "pro"

    await _dispute(db_sessionmaker, billing_setup, old, "dp_old", "lost", opened + timedelta(1))

    pro = await _subscription(db_sessionmaker, new)
    assert (pro.status, pro.frozen, pro.cancel_reason) == (ACTIVE, False, "")
    [old_invoice] = await _invoices(db_sessionmaker, old)
    assert old_invoice.amount_refunded == old_invoice.amount_paid  # the bank took it back
    [new_invoice] = await _invoices(db_sessionmaker, new)
    assert (new_invoice.status, new_invoice.amount_refunded) == (PAID, 0)


async def test_a_dispute_over_the_live_subscriptions_charge_still_freezes_and_cancels_it(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    _, _, new = await _old_plus_and_new_pro(db_sessionmaker, billing_setup)
    at = FEB_28 + timedelta(days=2)

    await _dispute(db_sessionmaker, billing_setup, new, "dp_new", "needs_response", at)
    assert (await _subscription(db_sessionmaker, new)).frozen is True
    await _dispute(db_sessionmaker, billing_setup, new, "dp_new", "lost", at + timedelta(1))

    pro = await _subscription(db_sessionmaker, new)
    assert (pro.status, pro.cancel_reason, pro.frozen) == (CANCELED, "dispute_lost", False)


# The invariant: a subscription's money never moves to another subscription.


async def _open_old(s: Sessions, b: BillingSetup, old: int, new: int) -> None:
    await _dispute(s, b, old, "dp_inv", "needs_response", MAR_31)


async def _won_old(s: Sessions, b: BillingSetup, old: int, new: int) -> None:
    await _dispute(s, b, old, "dp_inv", "needs_response", MAR_31)
    await _dispute(s, b, old, "dp_inv", "won", MAR_31)


async def _lost_old(s: Sessions, b: BillingSetup, old: int, new: int) -> None:
    await _dispute(s, b, old, "dp_inv", "lost", MAR_31)


async def _lost_new(s: Sessions, b: BillingSetup, old: int, new: int) -> None:
    await _dispute(s, b, new, "dp_inv", "needs_response", MAR_31)
    await _dispute(s, b, new, "dp_inv", "lost", MAR_31)


Event = Callable[[Sessions, BillingSetup, int, int], Awaitable[None]]


@pytest.mark.parametrize(
    ("event", "untouched"),
    [
        (_open_old, "new"),
        (_won_old, "new"),
        (_lost_old, "new"),
        (_lost_new, "old"),
    ],
)
async def test_a_subscriptions_money_never_moves_to_another_subscription(
    db_sessionmaker: Sessions, billing_setup: BillingSetup, event: Event, untouched: str
) -> None:
    """Whatever happens to the money of one subscription of an account (a dispute opened, won
    or lost over its charge), the invoices, state and plan of its other subscription do not
    change: money is tied to the subscription it paid for."""
    _, old, new = await _old_plus_and_new_pro(db_sessionmaker, billing_setup)
    other = new if untouched == "new" else old
    before = await _money(db_sessionmaker, other)

    await event(db_sessionmaker, billing_setup, old, new)

    assert await _money(db_sessionmaker, other) == before


# Defect 5: unpaid is not a dead end.


async def test_the_owner_can_cancel_an_unpaid_subscription_and_its_invoice_is_written_off(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    unpaid = await _dunned(db_sessionmaker, billing_setup, "ada", unpaid=True)
    found = await _subscription(db_sessionmaker, unpaid)
    at = FEB_28 + timedelta(days=10)

    async with db_sessionmaker() as session, session.begin():
        ended = await subscriptions.set_cancel_at_period_end(
            session, account_id=found.account_id, cancel=True, subscription_id=unpaid, now=at
        )

    assert (ended.status, ended.cancel_reason, ended.canceled_at) == (
        CANCELED,
        "canceled_by_customer",
        at,
    )
    assert [i.status for i in await _invoices(db_sessionmaker, unpaid)] == [PAID, UNCOLLECTIBLE]


async def test_subscribing_again_while_unpaid_ends_the_unpaid_subscription_first(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    unpaid = await _dunned(db_sessionmaker, billing_setup, "ada", unpaid=True)
    ada = (await _subscription(db_sessionmaker, unpaid)).account_id
    await add_card(db_sessionmaker, billing_setup, ada, GOOD_CARD)
    at = FEB_28 + timedelta(days=10)

    fresh = await subscribe(db_sessionmaker, billing_setup, ada, "pro", now=at)

    old = await _subscription(db_sessionmaker, unpaid)
    assert (old.status, old.cancel_reason, old.canceled_at) == (CANCELED, "resubscribed", at)
    assert [i.status for i in await _invoices(db_sessionmaker, unpaid)] == [PAID, UNCOLLECTIBLE]
    assert fresh.status == ACTIVE and fresh.id != unpaid
    assert [i.status for i in await _invoices(db_sessionmaker, fresh.id)] == [PAID]


async def test_a_refused_new_subscription_leaves_the_unpaid_one_as_it_was(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    unpaid = await _dunned(db_sessionmaker, billing_setup, "ada", unpaid=True)
    ada = (await _subscription(db_sessionmaker, unpaid)).account_id

    with pytest.raises(errors.UnknownCoupon):
        await subscribe(db_sessionmaker, billing_setup, ada, promotion_code="NOPE")

    assert (await _subscription(db_sessionmaker, unpaid)).status == UNPAID
    assert [i.status for i in await _invoices(db_sessionmaker, unpaid)] == [PAID, OPEN]


async def test_the_sweep_ends_an_unpaid_subscription_at_its_period_end(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    unpaid = await _dunned(db_sessionmaker, billing_setup, "ada", unpaid=True)
    period_end = (await _subscription(db_sessionmaker, unpaid)).current_period_end
    assert period_end == MAR_31

    await _sweep(db_sessionmaker, billing_setup, period_end - timedelta(seconds=1))
    assert (await _subscription(db_sessionmaker, unpaid)).status == UNPAID
    await _sweep(db_sessionmaker, billing_setup, period_end)

    ended = await _subscription(db_sessionmaker, unpaid)
    assert (ended.status, ended.cancel_reason, ended.canceled_at) == (
        CANCELED,
        "unpaid",
        period_end,
    )
    assert [i.status for i in await _invoices(db_sessionmaker, unpaid)] == [PAID, UNCOLLECTIBLE]


# Defect 6: an ended subscription's open invoices are closed.


async def test_a_lost_dispute_writes_off_the_open_invoices_of_the_subscription_it_ends(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    past_due = await _dunned(db_sessionmaker, billing_setup, "ada", unpaid=False)
    at = FEB_28 + timedelta(days=2)

    await _dispute(db_sessionmaker, billing_setup, past_due, "dp_pd", "lost", at)

    ended = await _subscription(db_sessionmaker, past_due)
    assert (ended.status, ended.cancel_reason) == (CANCELED, "dispute_lost")
    first, renewal = await _invoices(db_sessionmaker, past_due)
    assert (first.status, first.amount_refunded) == (PAID, first.amount_paid)
    assert renewal.status == UNCOLLECTIBLE


async def test_a_past_due_subscription_ended_at_period_end_leaves_no_invoice_open(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    past_due = await _dunned(db_sessionmaker, billing_setup, "ada", unpaid=False)
    found = await _subscription(db_sessionmaker, past_due)
    async with db_sessionmaker() as session, session.begin():
        await subscriptions.set_cancel_at_period_end(
            session, account_id=found.account_id, cancel=True
        )

    # No sweep ran during the grace: the first one after the period's end ends it.
    await _sweep(db_sessionmaker, billing_setup, found.current_period_end)

    ended = await _subscription(db_sessionmaker, past_due)
    assert (ended.status, ended.cancel_reason) == (CANCELED, "canceled_by_customer")
    assert [i.status for i in await _invoices(db_sessionmaker, past_due)] == [PAID, UNCOLLECTIBLE]


@pytest.mark.parametrize(("outcome", "ends_as"), [(FAILED, UNCOLLECTIBLE), (SUCCEEDED, PAID)])
async def test_an_invoice_being_paid_when_its_subscription_ends_is_left_to_that_payment(
    db_sessionmaker: Sessions, billing_setup: BillingSetup, outcome: str, ends_as: str
) -> None:
    """Never written off under a payment that may still succeed (the money would be taken
    for an invoice no longer open); once it settles, paid, or written off by the sweep."""
    unpaid = await _dunned(db_sessionmaker, billing_setup, "ada", unpaid=True)
    _, renewal = await _invoices(db_sessionmaker, unpaid)
    at = FEB_28 + timedelta(days=10)
    async with db_sessionmaker() as session, session.begin():
        payment = Payment(
            invoice_id=renewal.id,
            account_id=renewal.account_id,
            amount=renewal.amount_due,
            currency=renewal.currency,
            status=PENDING,
        )
        session.add(payment)
        await session.flush()
        payment_id = payment.id
        await subscriptions.set_cancel_at_period_end(
            session, account_id=renewal.account_id, cancel=True, now=at
        )
    await _sweep(db_sessionmaker, billing_setup, at + timedelta(minutes=1))
    assert (await _subscription(db_sessionmaker, unpaid)).status == CANCELED
    assert [i.status for i in await _invoices(db_sessionmaker, unpaid)] == [PAID, OPEN]

    async with db_sessionmaker() as session, session.begin():
        await payments.apply_intent_result(
            session,
            billing_setup,
            result=IntentResult("", outcome, None, "", ""),
            now=at + timedelta(minutes=2),
            payment_id=payment_id,
        )
    await _sweep(db_sessionmaker, billing_setup, at + timedelta(minutes=3))

    assert [i.status for i in await _invoices(db_sessionmaker, unpaid)] == [PAID, ends_as]
    assert (await _subscription(db_sessionmaker, unpaid)).status == CANCELED
