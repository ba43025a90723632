"""A mutation refused by its rate limit wrote nothing, so its idempotency key stays free:
the client retries with the same key once the limit allows."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from app.runtime import Services
from app.settings import Settings
from models.idempotency.tables import IdempotencyKey
from tests.conftest import make_settings
from tests.support.accounts import CREATE_POST, sign_up
from tests.support.backends import Database
from tests.support.budgets import within_one_window
from tests.support.graphql import GraphQLClient
from tests.support.limits import RELAXED_RATE_LIMITS


@pytest.fixture(autouse=True)
async def one_window() -> None:
    await within_one_window(60, margin=6)


@pytest.fixture
def settings(database: Database) -> Settings:
    return make_settings(database, rate_limits={**RELAXED_RATE_LIMITS, "posts.account": "1/minute"})


async def test_a_rate_limited_mutation_leaves_the_key_free(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")
    headers = {"authorization": f"Bearer {ada.token}"}
    body = {"query": CREATE_POST, "variables": {"input": {"body": "one"}}}
    await http.post("/graphql", json=body, headers=headers)

    refused = await http.post(
        "/graphql", json=body, headers={**headers, "idempotency-key": "k-limited"}
    )

    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert "idempotentReplay" not in refused.json().get("extensions", {})
    async with services.runtime.read_sessionmaker() as session:
        assert await session.scalar(select(func.count(IdempotencyKey.id))) == 0
