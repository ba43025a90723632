"""An annual plan's metered usage (issue 12, defect 8): each month of service includes the
plan's monthly API calls (twelve times them a year, not one twelfth), and the calls above
them are invoiced every month, not a year in arrears."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.billing import errors, usage
from models.billing.ledger import PAID, Invoice, InvoiceLine
from models.billing.setup import BillingSetup
from models.billing.specs import UsageEvent
from models.billing.sweep import BillingSweep
from models.transactions import Transactions
from tests.support.domain_billing import customer, forever_code, subscribe

Sessions = async_sessionmaker[AsyncSession]
JAN_15 = datetime(2026, 1, 15, 12, tzinfo=UTC)


def _at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


async def _record(sessions: Sessions, account_id: int, quantity: int, at: datetime) -> None:
    event = UsageEvent(account_id, "api_calls", quantity, f"evt-{at.isoformat()}", at)
    async with sessions() as session, session.begin():
        await usage.record_usage(session, event, now=at)


async def _sweep(sessions: Sessions, setup: BillingSetup, now: datetime) -> None:
    await BillingSweep(Transactions(sessions), sessions, setup).sweep(now=now)


async def _invoices(sessions: Sessions, account_id: int) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        invoices = (
            await session.scalars(
                select(Invoice).where(Invoice.account_id == account_id).order_by(Invoice.id)
            )
        ).all()
        found = []
        for invoice in invoices:
            usage_lines = (
                await session.scalars(
                    select(InvoiceLine.quantity).where(
                        InvoiceLine.invoice_id == invoice.id, InvoiceLine.kind == usage.USAGE
                    )
                )
            ).all()
            found.append((invoice.reason, invoice.period_start.date(), invoice.status,
                          invoice.subtotal, list(usage_lines)))  # fmt: skip
    return found


async def test_an_annual_plans_usage_above_the_monthly_allowance_is_invoiced_every_month(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(db_sessionmaker, billing_setup, ada, "plus", interval="year", now=JAN_15)
    await _record(db_sessionmaker, ada, 15_000, _at(1, 20))

    await _sweep(db_sessionmaker, billing_setup, _at(2, 14))
    await _sweep(db_sessionmaker, billing_setup, _at(2, 15))
    await _sweep(db_sessionmaker, billing_setup, _at(2, 16))

    first, *usage_invoices = await _invoices(db_sessionmaker, ada)
    assert first[0] == "subscription_create" and first[3] == 5000  # $50 a year
    # 5,000 above the 10,000 included in the month, at $0.20 per 1,000.
    assert usage_invoices == [("subscription_usage", JAN_15.date(), PAID, 100, [5000])]
    with pytest.raises(errors.UsageOutsidePeriod):  # that month is invoiced
        await _record(db_sessionmaker, ada, 1, _at(2, 14))


async def test_each_month_of_an_annual_period_includes_the_monthly_allowance(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(db_sessionmaker, billing_setup, ada, "plus", interval="year", now=JAN_15)
    await _record(db_sessionmaker, ada, 9_000, _at(1, 20))  # under the month's 10,000
    await _sweep(db_sessionmaker, billing_setup, _at(12, 15))  # months 1 to 11: nothing due
    await _record(db_sessionmaker, ada, 15_000, _at(12, 20))

    await _sweep(db_sessionmaker, billing_setup, _at(1, 15, 2027))

    _, renewal = await _invoices(db_sessionmaker, ada)
    # The last month's 5,000 above its 10,000 on the renewal ($1.00 + the next year's $50).
    assert renewal == ("subscription_cycle", JAN_15.date().replace(year=2027), PAID, 5100, [5000])


@pytest.mark.parametrize(
    ("offer", "discount"),
    [({"percent_off": 50}, 50), ({"amounts_off": (("USD", 1000),)}, 0)],
    ids=["percent", "amount"],
)
async def test_a_month_of_usage_gets_a_percentage_off_but_not_the_periods_amount_off_again(
    db_sessionmaker: Sessions, billing_setup: BillingSetup, offer: dict[str, Any], discount: int
) -> None:
    await forever_code(db_sessionmaker, "YEARLY", **offer)
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(
        db_sessionmaker, billing_setup, ada, "plus", interval="year", promotion_code="YEARLY",
        now=JAN_15,
    )  # fmt: skip
    await _record(db_sessionmaker, ada, 15_000, _at(1, 20))

    await _sweep(db_sessionmaker, billing_setup, _at(2, 16))

    async with db_sessionmaker() as session:
        first, month = (
            await session.scalars(
                select(Invoice).where(Invoice.account_id == ada).order_by(Invoice.id)
            )
        ).all()
    assert first.discount_total > 0  # the year's invoice took the offer
    assert (month.reason, month.subtotal, month.discount_total) == (
        "subscription_usage", 100, discount,
    )  # fmt: skip
