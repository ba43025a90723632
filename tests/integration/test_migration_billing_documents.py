"""Migration 0010 (billing documents outlive their account) on a database with rows: on
SQLite it edits the table definitions in place, so no invoice line is lost in cascade, and
it goes down and up again; afterwards an account's deletion leaves its invoice behind."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app import db
from models.accounts.tables import Account
from models.billing.ledger import PAID, SUBSCRIPTION_CREATE, Invoice, InvoiceLine, Payment
from tests.conftest import BACKENDS, make_settings
from tests.support.backends import create_database, drop_database
from tests.support.domain_accounts import new_account

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    await db.downgrade(engine, revision)


async def _counts(engine: AsyncEngine) -> tuple[int, int, int]:
    async with db.create_sessionmaker(engine)() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(table))
            for table in (Invoice, InvoiceLine, Payment)
        ]
    return (int(counts[0] or 0), int(counts[1] or 0), int(counts[2] or 0))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_0010_keeps_rows_goes_down_and_up_and_lets_documents_outlive_accounts(
    backend: str, tmp_path: Path
) -> None:
    database = await create_database(backend, tmp_path)
    engine = db.create_engine(make_settings(database))
    try:
        await db.migrate(engine)
        async with db.create_sessionmaker(engine)() as session, session.begin():
            account_id = (await new_account(session, "ada")).id
            invoice = Invoice(
                number=1, account_id=account_id, reason=SUBSCRIPTION_CREATE, currency="USD",
                status=PAID, period_start=WHEN, period_end=WHEN, subtotal=500, total=500,
                amount_paid=500, tax_country="US",
            )  # fmt: skip
            session.add(invoice)
            await session.flush()
            session.add_all([
                InvoiceLine(invoice_id=invoice.id, kind="plan", description="Plus", amount=500,
                            period_start=WHEN, period_end=WHEN),
                Payment(invoice_id=invoice.id, account_id=account_id, amount=500, currency="USD",
                        status="succeeded"),
            ])  # fmt: skip
        await _downgrade(engine, "0009")
        assert await _counts(engine) == (1, 1, 1)
        await db.migrate(engine)
        assert await _counts(engine) == (1, 1, 1)

        async with db.create_sessionmaker(engine)() as session, session.begin():
            await session.execute(delete(Account).where(Account.id == account_id))
        async with db.create_sessionmaker(engine)() as session:
            kept = await session.scalar(select(Invoice))
        assert await _counts(engine) == (1, 1, 1)
        assert kept is not None and (kept.account_id, kept.number, kept.total) == (None, 1, 500)
    finally:
        await engine.dispose()
        await drop_database(database)
