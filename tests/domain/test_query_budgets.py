"""Query budgets by plan (resolvers/budget.py): an account's plan names its budget rule
through billing's entitlements, read once per minute per account, not per operation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from models.billing.setup import BillingSetup
from models.throttle import RateLimited, Throttle
from resolvers import budget
from resolvers.budget import PlanBudgets
from tests.support.budgets import within_one_window
from tests.support.domain_billing import customer, subscribe

Sessions = async_sessionmaker[AsyncSession]
RULES = {
    "budget.anonymous": "50/hour",
    "budget.user": "100/hour",
    "budget.plus": "500/hour",
    "budget.pro": "1000/hour",
}


async def test_each_plan_names_its_budget(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    free = await customer(db_sessionmaker, billing_setup, "free")
    plus = await customer(db_sessionmaker, billing_setup, "plus")
    pro = await customer(db_sessionmaker, billing_setup, "pro")
    await subscribe(db_sessionmaker, billing_setup, plus, "plus")
    await subscribe(db_sessionmaker, billing_setup, pro, "pro")
    plans = PlanBudgets()

    rules = [await plans.rule(db_sessionmaker, account) for account in (free, plus, pro)]

    assert rules == ["budget.user", "budget.plus", "budget.pro"]


async def test_an_account_plan_is_read_once_per_minute_not_per_operation(
    db_sessionmaker: Sessions, db_connection: AsyncConnection, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    plans = PlanBudgets(ttl=60)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db_connection.sync_connection, "before_cursor_execute", record)
    try:
        first = await plans.rule(db_sessionmaker, ada)
        read_first = len(statements)
        again = [await plans.rule(db_sessionmaker, ada) for _ in range(5)]
    finally:
        event.remove(db_connection.sync_connection, "before_cursor_execute", record)

    assert first == "budget.user" and again == ["budget.user"] * 5
    assert read_first >= 1
    assert len(statements) == read_first


async def test_a_plan_change_takes_effect_when_its_entry_expires(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    cached, fresh = PlanBudgets(ttl=60), PlanBudgets(ttl=0)
    assert await cached.rule(db_sessionmaker, ada) == "budget.user"
    assert await fresh.rule(db_sessionmaker, ada) == "budget.user"

    await subscribe(db_sessionmaker, billing_setup, ada, "pro")

    assert await cached.rule(db_sessionmaker, ada) == "budget.user"
    assert await fresh.rule(db_sessionmaker, ada) == "budget.pro"


async def test_charges_go_to_the_account_by_plan_or_to_the_ip_group(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(db_sessionmaker, billing_setup, ada, "plus")
    throttle, plans = Throttle(RULES), PlanBudgets()
    await within_one_window()

    async def charge(account_id: int | None, ip: str, cost: int) -> budget.Charge:
        return await budget.charge(
            throttle=throttle,
            plans=plans,
            sessionmaker=db_sessionmaker,
            account_id=account_id,
            ip_group=ip,
            cost=cost,
            max_cost=10_000,
        )

    signed_in = await charge(ada, "198.51.100.1", 300)
    anonymous = await charge(None, "198.51.100.1", 30)
    with pytest.raises(RateLimited) as over:
        await charge(None, "198.51.100.1", 30)
    elsewhere = await charge(None, "198.51.100.2", 30)

    assert (signed_in.limit, signed_in.remaining) == (500, 200)
    assert (anonymous.limit, anonymous.remaining) == (50, 20)
    assert over.value.rule == "budget.anonymous"
    assert elsewhere.remaining == 20
    await throttle.aclose()


async def test_without_its_budget_rules_nothing_is_charged(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    await subscribe(db_sessionmaker, billing_setup, ada, "pro")
    only_users = Throttle({"budget.user": "100/hour"})
    await within_one_window()

    pro = await budget.charge(
        throttle=only_users,
        plans=PlanBudgets(),
        sessionmaker=db_sessionmaker,
        account_id=ada,
        ip_group="198.51.100.1",
        cost=40,
        max_cost=10_000,
    )
    anonymous = await budget.charge(
        throttle=only_users,
        plans=PlanBudgets(),
        sessionmaker=db_sessionmaker,
        account_id=None,
        ip_group="198.51.100.1",
        cost=40,
        max_cost=10_000,
    )

    # A plan whose rule is not configured falls back to budget.user; no anonymous rule, no
    # anonymous budget.
    assert (pro.limit, pro.remaining) == (100, 60)
    assert anonymous.limit is None and anonymous.extensions() == {
        "requestedQueryCost": 40,
        "maxCost": 10_000,
    }
