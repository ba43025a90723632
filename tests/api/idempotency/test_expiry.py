"""Keys expire after IDEMPOTENCY_KEY_RETENTION_HOURS: an expired key is a new key, and the
periodic sweep deletes expired keys, counting them in a metric."""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from app.runtime import Services
from models.base import utcnow
from models.idempotency.tables import IdempotencyKey
from models.posts.tables import Post
from tests.support.accounts import CREATE_POST, sign_up
from tests.support.graphql import GraphQLClient

EXPIRED = "chirp_idempotency_keys_expired_total"


async def keyed_post(http: httpx.AsyncClient, token: str, key: str) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": CREATE_POST, "variables": {"input": {"body": "again?"}}},
        headers={"authorization": f"Bearer {token}", "idempotency-key": key},
    )


async def expire(services: Services, key: str) -> None:
    async with services.runtime.transactions.begin() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == key)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


async def count(services: Services, column: object) -> int:
    async with services.runtime.read_sessionmaker() as session:
        return int(await session.scalar(select(func.count(column))) or 0)  # type: ignore[arg-type]


async def test_a_key_expires_after_the_retention(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")
    await keyed_post(http, ada.token, "k-old")
    async with services.runtime.read_sessionmaker() as session:
        row = (await session.scalars(select(IdempotencyKey))).one()
    retention = row.expires_at - row.created_at
    assert timedelta(hours=24) - timedelta(seconds=5) < retention <= timedelta(hours=24)
    await expire(services, "k-old")

    again = await keyed_post(http, ada.token, "k-old")

    assert "idempotentReplay" not in again.json().get("extensions", {})
    assert again.json()["data"]["createPost"]["__typename"] == "PostPayload"
    assert await count(services, Post.id) == 2
    assert await count(services, IdempotencyKey.id) == 1


async def test_the_sweep_deletes_expired_keys_only(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")
    for key in ("k-a", "k-b", "k-kept"):
        await keyed_post(http, ada.token, key)
    await expire(services, "k-a")
    await expire(services, "k-b")
    before = REGISTRY.get_sample_value(EXPIRED) or 0.0

    deleted = await services.runners["idempotency-sweep"].run_once()
    idle = await services.runners["idempotency-sweep"].run_once()

    assert (deleted, idle) == (2, 0)
    assert REGISTRY.get_sample_value(EXPIRED) == before + 2
    async with services.runtime.read_sessionmaker() as session:
        kept = (await session.scalars(select(IdempotencyKey.key))).all()
    assert kept == ["k-kept"]
    replay = await keyed_post(http, ada.token, "k-kept")
    assert replay.json()["extensions"]["idempotentReplay"] is True
