"""Money and documents an ended subscription or a closed account must not lose (found by a
review of issue 12's fixes): a written-off invoice gives back the credit it used, a closed
account's open invoices are written off rather than left for a sweep that cannot lock them,
and a refund settled late never counts more refunded than was paid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.billing import detach, endings, refund_updates
from models.billing.ledger import OPEN, PENDING, UNCOLLECTIBLE, CreditNote, Invoice, Payment
from models.billing.setup import BillingSetup
from models.billing.sweep import BillingSweep
from models.billing.tables import CANCELED, UNPAID, BillingCustomer, Subscription
from models.transactions import Transactions
from tests.support.domain_billing import add_card, customer, latest_invoice, subscribe
from tests.support.memory_gateway import DECLINED_ON_CHARGE

Sessions = async_sessionmaker[AsyncSession]
JAN_31 = datetime(2026, 1, 31, 12, tzinfo=UTC)
FEB_28 = datetime(2026, 2, 28, 12, tzinfo=UTC)


async def _sweep(sessions: Sessions, setup: BillingSetup, at: datetime) -> None:
    await BillingSweep(Transactions(sessions), sessions, setup).sweep(now=at)


async def _balance(sessions: Sessions, account_id: int) -> int:
    async with sessions() as session:
        found = await session.get(BillingCustomer, account_id)
        assert found is not None
        return found.credit_balance


async def test_an_unpaid_subscriptions_written_off_invoice_gives_back_the_credit_it_used(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    subscription = await subscribe(db_sessionmaker, billing_setup, ada, now=JAN_31)
    async with db_sessionmaker() as session, session.begin():  # credit from an earlier change
        await session.execute(
            update(BillingCustomer)
            .where(BillingCustomer.account_id == ada)
            .values(credit_balance=300)
        )
    await add_card(db_sessionmaker, billing_setup, ada, DECLINED_ON_CHARGE)
    for days in (0, 1, 3, 5, 7):  # the renewal uses the credit, is declined, dunning ends
        await _sweep(db_sessionmaker, billing_setup, FEB_28 + timedelta(days=days))
    async with db_sessionmaker() as session:
        renewal = await latest_invoice(session, ada)
        unpaid = await session.get(Subscription, subscription.id)
        assert unpaid is not None and unpaid.status == UNPAID
    assert (renewal.status, renewal.credit_applied) == (OPEN, 300)
    assert await _balance(db_sessionmaker, ada) == 0

    await _sweep(db_sessionmaker, billing_setup, unpaid.current_period_end + timedelta(hours=1))

    async with db_sessionmaker() as session:
        written_off = await session.get(Invoice, renewal.id, populate_existing=True)
        ended = await session.get(Subscription, subscription.id, populate_existing=True)
    assert written_off is not None and written_off.status == UNCOLLECTIBLE
    assert ended is not None and ended.status == CANCELED
    assert await _balance(db_sessionmaker, ada) == 300


async def test_a_closed_accounts_open_invoices_are_written_off_not_left_to_block_the_sweep(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(db_sessionmaker, billing_setup, ada, "pro", now=JAN_31)
    async with db_sessionmaker() as session, session.begin():
        # An ended subscription whose last invoice is still open (as after a lost dispute).
        invoice = await latest_invoice(session, ada)
        invoice.status = OPEN
        await session.execute(
            update(Subscription)
            .where(Subscription.account_id == ada)
            .values(status=CANCELED, canceled_at=JAN_31, cancel_reason="lost_dispute")
        )
        invoice_id = invoice.id
        await detach.detach_account_billing(session, account_id=ada, now=FEB_28)

    tally = await endings.end_due(Transactions(db_sessionmaker), now=FEB_28)

    async with db_sessionmaker() as session:
        kept = await session.get(Invoice, invoice_id)
    assert kept is not None and (kept.status, kept.account_id) == (UNCOLLECTIBLE, None)
    assert tally.failed == 0


async def test_a_refund_that_succeeds_late_never_counts_more_than_was_paid(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(db_sessionmaker, billing_setup, ada, "pro", country="DE", now=JAN_31)
    async with db_sessionmaker() as session, session.begin():
        invoice = await latest_invoice(session, ada)
        payment = await session.scalar(select(Payment).where(Payment.invoice_id == invoice.id))
        assert payment is not None
        session.add(
            CreditNote(
                invoice_id=invoice.id,
                payment_id=payment.id,
                amount=500,
                currency=invoice.currency,
                reason="goodwill",
                status=PENDING,
                stripe_refund_id="re_late",
            )
        )
        # A lost dispute counted the whole charge as given back on the invoice meanwhile
        # (disputes._count_lost; the payment keeps what Stripe's charge says).
        invoice.amount_refunded = invoice.amount_paid
        invoice_id = invoice.id
        refund = {
            "id": "re_late",
            "object": "refund",
            "status": "succeeded",
            "amount": 500,
            "charge": payment.stripe_charge_id,
            "payment_intent": payment.stripe_payment_intent_id,
            "metadata": {},
        }

    async with db_sessionmaker() as session, session.begin():
        await refund_updates.apply_refund_update(session, billing_setup, refund=refund, now=FEB_28)

    async with db_sessionmaker() as session:
        counted = await session.get(Invoice, invoice_id)
        paid = await session.scalar(select(Payment).where(Payment.invoice_id == invoice_id))
    assert counted is not None and paid is not None
    assert counted.amount_refunded == counted.amount_paid == 1785
    assert paid.amount_refunded == 500
