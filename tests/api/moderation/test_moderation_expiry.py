"""The sweep loop lifts expired suspensions by itself (here every 0.1 s)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.runtime import Services
from app.settings import Settings
from models.accounts.tables import Account
from tests.conftest import eventually, make_settings
from tests.support.accounts import sign_up
from tests.support.audit import audit_entries
from tests.support.backends import Database
from tests.support.graphql import GraphQLClient
from tests.support.moderation import SUSPEND_ACCOUNT, act, run_out_suspension
from tests.support.staff import make_staff


@pytest.fixture
def settings(database: Database) -> Settings:
    return make_settings(database, moderation_sweep_interval=0.1)


async def test_the_sweep_lifts_a_suspension_when_its_time_is_up(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    dated = await sign_up(gql, "dated")
    indefinite = await sign_up(gql, "indefinite")
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    await act(gql, SUSPEND_ACCOUNT, moderator, accountId=dated.id, reason="short", until=until)
    await act(gql, SUSPEND_ACCOUNT, moderator, accountId=indefinite.id, reason="long")
    # Both ends pass at once, with no wait on the wall clock (the indefinite suspension as
    # if an end had been set on it); only the sweep may notice.
    for handle in ("dated", "indefinite"):
        await run_out_suspension(services, handle)

    async def both_lifted() -> bool:
        return len(await audit_entries(services, "moderation.expire_suspension")) == 2

    await eventually(both_lifted)
    async with services.runtime.read_sessionmaker() as session:
        rows = await session.execute(
            select(Account.suspended_at, Account.suspended_until).where(
                Account.handle.in_(["dated", "indefinite"])
            )
        )
        suspensions = [tuple(row) for row in rows]

    assert suspensions == [(None, None), (None, None)]
