"""The unit of work: each commit wakes the dispatcher, and no network call may wait inside
an open transaction (no database is reached: SQLite in memory connects on first use)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from models.billing.gateway import StripeGateway
from models.transactions import TransactionOpen, Transactions, ensure_outside_transaction


@pytest.fixture
async def transactions() -> AsyncIterator[tuple[Transactions, list[str]]]:
    engine = create_async_engine("sqlite+aiosqlite://")
    woken: list[str] = []
    yield Transactions(async_sessionmaker(engine), on_commit=lambda: woken.append("kick")), woken
    await engine.dispose()


async def test_each_commit_wakes_the_dispatcher_once(
    transactions: tuple[Transactions, list[str]],
) -> None:
    uow, woken = transactions
    async with uow.begin():
        assert woken == []  # not before the commit
    async with uow.begin():
        pass
    assert woken == ["kick", "kick"]


async def test_a_rolled_back_transaction_wakes_nobody(
    transactions: tuple[Transactions, list[str]],
) -> None:
    uow, woken = transactions
    with pytest.raises(LookupError):
        async with uow.begin():
            raise LookupError
    async with uow.session():
        pass
    assert woken == []


async def test_the_guard_refuses_a_call_inside_a_transaction_or_a_session(
    transactions: tuple[Transactions, list[str]],
) -> None:
    uow, _ = transactions
    ensure_outside_transaction("before")
    async with uow.begin():
        with pytest.raises(TransactionOpen, match="an email made inside"):
            ensure_outside_transaction("an email")
    async with uow.session():
        async with uow.begin():
            pass
        with pytest.raises(TransactionOpen):  # the outer one is still open
            ensure_outside_transaction("a webhook")
    ensure_outside_transaction("after")


async def test_a_stripe_call_inside_a_transaction_is_refused_before_it_is_sent(
    transactions: tuple[Transactions, list[str]],
) -> None:
    uow, _ = transactions
    # Nothing listens on port 9: had the call gone out, it would fail with another error.
    gateway = StripeGateway(api_key="sk_test_guard", api_base="http://127.0.0.1:9", timeout=1)
    try:
        async with uow.begin():
            with pytest.raises(TransactionOpen, match="a Stripe call"):
                await gateway.create_customer(account_id=1, email="a@example.com", key="k-1")
    finally:
        await gateway.aclose()
