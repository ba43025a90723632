"""The money of an upgrade, through the billing engine on the in-memory payment gateway: a
coupon discounts the charges but never the credit for unused time, a coupon limited to a
plan stops at a change of plan, and the credit gives back the tax it was charged with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.billing import renewals, subscriptions
from models.billing.ledger import SUBSCRIPTION_CYCLE, SUBSCRIPTION_UPDATE, Invoice, InvoiceLine
from models.billing.setup import BillingSetup
from models.billing.tables import BillingCustomer
from models.transactions import Transactions
from tests.support.domain_billing import customer, forever_code, latest_invoice, subscribe

Sessions = async_sessionmaker[AsyncSession]
START = datetime(2026, 1, 1, tzinfo=UTC)
HALF_JANUARY = START + timedelta(days=15, hours=12)  # half of January's 31 days


async def _balance(session: AsyncSession, account_id: int) -> int:
    found = await session.get(BillingCustomer, account_id, populate_existing=True)
    assert found is not None
    return found.credit_balance


async def _upgrade(
    sessions: Sessions,
    setup: BillingSetup,
    account_id: int,
    plan_code: str,
    interval: str,
    at: datetime,
) -> tuple[subscriptions.PlanChange, Invoice, list[int]]:
    """The preview at `at`, then the change at `at`: its invoice and its lines' amounts."""
    async with sessions() as session:
        preview = await subscriptions.preview_change(
            session, account_id=account_id, plan_code=plan_code, interval=interval, now=at
        )
    _, invoice = await subscriptions.change_plan(
        Transactions(sessions),
        setup,
        account_id=account_id,
        plan_code=plan_code,
        interval=interval,
        now=at,
    )
    assert invoice is not None and invoice.reason == SUBSCRIPTION_UPDATE
    async with sessions() as session:
        amounts = list(
            await session.scalars(
                select(InvoiceLine.amount)
                .where(InvoiceLine.invoice_id == invoice.id)
                .order_by(InvoiceLine.id)
            )
        )
    return preview, invoice, amounts


async def test_a_percent_coupon_discounts_the_upgrade_charge_but_not_the_credit(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    await forever_code(db_sessionmaker, "HALF-FOREVER", percent_off=50)
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(db_sessionmaker, billing_setup, ada, promotion_code="HALF-FOREVER", now=START)

    preview, invoice, amounts = await _upgrade(
        db_sessionmaker, billing_setup, ada, "pro", "month", HALF_JANUARY
    )

    # Half a period of Plus was paid 250 (500 less 50%): 125 back; half of Pro is 750, less
    # 50%: 375. The credit is not discounted again.
    assert amounts == [-125, 750]
    assert (invoice.subtotal, invoice.discount_total, invoice.total) == (625, 375, 250)
    assert invoice.amount_paid == 250
    assert preview.draft is not None
    assert (preview.draft.totals.discount, preview.draft.totals.amount_due) == (375, 250)


async def test_an_amount_off_coupon_takes_off_only_the_part_of_the_period_charged(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    await forever_code(db_sessionmaker, "TWO-OFF", amounts_off=(("USD", 200),))
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(db_sessionmaker, billing_setup, ada, promotion_code="TWO-OFF", now=START)

    _, invoice, amounts = await _upgrade(
        db_sessionmaker, billing_setup, ada, "pro", "month", HALF_JANUARY
    )

    # Plus was paid 300 (500 less 200): 150 back, which gave back half of the 200 off; the
    # half period of Pro gets the other half: 750 - 100. 200 off per period, not 300.
    assert amounts == [-150, 750]
    assert (invoice.discount_total, invoice.total) == (100, 500)


async def test_a_coupon_for_one_plan_stops_applying_after_an_upgrade(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    await forever_code(db_sessionmaker, "PLUS-HALF", percent_off=50, plan_codes=("plus",))
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(db_sessionmaker, billing_setup, ada, promotion_code="PLUS-HALF", now=START)

    _, upgrade, amounts = await _upgrade(
        db_sessionmaker, billing_setup, ada, "pro", "month", HALF_JANUARY
    )
    await renewals.renew_due(
        Transactions(db_sessionmaker), billing_setup, now=datetime(2026, 2, 1, 1, tzinfo=UTC)
    )

    async with db_sessionmaker() as session:
        renewal = await latest_invoice(session, ada)
    assert renewal.reason == SUBSCRIPTION_CYCLE
    assert (renewal.subtotal, renewal.discount_total, renewal.total) == (1500, 0, 1500)
    # The upgrade's charge is for Pro too: no discount; the credit is what Plus was paid.
    assert amounts == [-125, 750]
    assert (upgrade.discount_total, upgrade.total) == (0, 625)


async def test_the_credit_for_unused_time_gives_back_its_vat_to_the_balance(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(
        db_sessionmaker,
        billing_setup,
        ada,
        "plus",
        interval="year",
        currency="EUR",
        country="DE",
        now=START,
    )
    async with db_sessionmaker() as session:
        first = await latest_invoice(session, ada)
    assert (first.subtotal, first.tax_total, first.total) == (5000, 950, 5950)

    _, invoice, amounts = await _upgrade(
        db_sessionmaker, billing_setup, ada, "pro", "month", START + timedelta(days=31)
    )
    async with db_sessionmaker() as session:
        balance = await _balance(session, ada)

    # 334 of 365 days unused: 4575 credited with its 19% VAT (869), less Pro's 1400 + 266:
    # 3778 to the balance, and the invoice records the VAT given back (-603).
    assert amounts == [-4575, 1400, 3778]
    assert (invoice.tax_total, invoice.total, invoice.amount_due) == (-603, 0, 0)
    assert invoice.subtotal - invoice.discount_total + invoice.tax_total == invoice.total
    assert balance == 3778

    await renewals.renew_due(
        Transactions(db_sessionmaker), billing_setup, now=datetime(2026, 3, 1, 1, tzinfo=UTC)
    )
    async with db_sessionmaker() as session:
        renewal = await latest_invoice(session, ada)
        after = await _balance(session, ada)
    # The renewal is taxed once, on its own supply, and paid from the VAT-inclusive balance.
    assert (renewal.tax_total, renewal.total, renewal.credit_applied) == (266, 1666, 1666)
    assert after == 3778 - 1666


async def test_a_second_upgrade_credits_what_the_first_charged_net_of_its_discount(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    await forever_code(db_sessionmaker, "HALF-YEARS", percent_off=50)
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(
        db_sessionmaker, billing_setup, ada, interval="year", promotion_code="HALF-YEARS", now=START
    )
    # 2500 paid for the year; 334 of 365 days back (2288) against Pro's month at 750.
    _, first, amounts = await _upgrade(
        db_sessionmaker, billing_setup, ada, "pro", "month", datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert amounts == [-2288, 1500, 1538]
    assert (first.discount_total, first.total) == (750, 0)

    _, second, amounts = await _upgrade(
        db_sessionmaker, billing_setup, ada, "pro", "year", datetime(2026, 2, 15, tzinfo=UTC)
    )

    # Pro's month was paid 750 (the 1538 moved to the balance took no discount): half back.
    assert amounts == [-375, 15000]
    assert (second.discount_total, second.total, second.credit_applied) == (7500, 7125, 1538)
