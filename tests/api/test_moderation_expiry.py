"""The sweep loop lifts expired suspensions by itself (here every 0.1 s)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.runtime import Services
from app.settings import Settings
from models.accounts.tables import Account
from tests.conftest import eventually, make_settings
from tests.support.accounts import sign_up
from tests.support.audit import audit_entries
from tests.support.backends import Database
from tests.support.graphql import GraphQLClient
from tests.support.moderation import SUSPEND_ACCOUNT, act
from tests.support.staff import make_staff


@pytest.fixture
def settings(database: Database) -> Settings:
    return make_settings(database, moderation_sweep_interval=0.1)


async def test_the_sweep_lifts_a_suspension_when_its_time_is_up(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    soon = await sign_up(gql, "soon")
    past = await sign_up(gql, "past")
    until = (datetime.now(UTC) + timedelta(milliseconds=300)).isoformat()

    await act(gql, SUSPEND_ACCOUNT, moderator, accountId=soon.id, reason="short", until=until)
    await act(gql, SUSPEND_ACCOUNT, moderator, accountId=past.id, reason="long")
    async with services.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Account)
            .where(Account.handle == "past")
            .values(suspended_until=datetime.now(UTC) - timedelta(days=1))
        )

    async def both_lifted() -> bool:
        return len(await audit_entries(services, "moderation.expire_suspension")) == 2

    await eventually(both_lifted, timeout=5.0)
    async with services.runtime.read_sessionmaker() as session:
        rows = await session.execute(
            select(Account.suspended_at, Account.suspended_until).where(
                Account.handle.in_(["soon", "past"])
            )
        )
        suspensions = [tuple(row) for row in rows]

    assert suspensions == [(None, None), (None, None)]
