"""A key another request holds without an answer yet: IDEMPOTENCY_KEY_IN_USE, whether the
retry finds the key when it looks (still running, or its process died before storing the
answer) or only at its first write (concurrent duplicates); either way one effect."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import select

from app.runtime import Services
from models.accounts.tables import Account
from models.base import utcnow
from models.idempotency import actions as idempotency
from models.posts.tables import Post
from tests.conftest import eventually
from tests.support.accounts import CREATE_POST, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.idempotency import code_of, count, post_input, send


async def test_concurrent_duplicates_have_one_effect(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")

    answers = await asyncio.gather(
        *(
            send(http, CREATE_POST, post_input("racing"), key="k-race", token=ada.token)
            for _ in range(4)
        )
    )

    assert await count(services, Post.id) == 1
    ran = [
        a
        for a in answers
        if a.status_code == 200 and "idempotentReplay" not in a.json().get("extensions", {})
    ]
    assert len(ran) == 1, [a.json() for a in answers]
    for answer in answers:
        if answer.status_code == 200:
            assert answer.json()["data"] == ran[0].json()["data"]
        else:
            assert answer.status_code == 409, answer.json()
            assert code_of(answer) == "IDEMPOTENCY_KEY_IN_USE"
            assert answer.headers["retry-after"] == "1"
    # Once the first has answered, every retry is its replay.
    retry = await send(http, CREATE_POST, post_input("racing"), key="k-race", token=ada.token)
    assert retry.json()["data"] == ran[0].json()["data"]


async def test_a_key_taken_without_an_answer_is_in_use(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    # What a retry finds while the first request runs, or after its process died between
    # its commit and storing its answer.
    ada = await sign_up(gql, "ada")
    async with services.runtime.read_sessionmaker() as session:
        account_id = await session.scalar(select(Account.id).where(Account.handle == "ada"))
    fingerprint = idempotency.fingerprint_of(
        operation_name="Post", document=CREATE_POST, variables=post_input("lost")
    )
    async with services.runtime.transactions.begin() as session:
        await idempotency.take_key(
            session,
            scope=idempotency.scope_of(account_id=account_id, client_ip=""),
            key="k-lost",
            fingerprint=fingerprint,
            operation_name=None,
            expires_at=utcnow() + timedelta(hours=1),
        )

    retry = await send(http, CREATE_POST, post_input("lost"), key="k-lost", token=ada.token)

    assert retry.status_code == 409
    assert code_of(retry) == "IDEMPOTENCY_KEY_IN_USE"
    extensions = retry.json()["errors"][0]["extensions"]
    assert extensions["retryAfter"] == 1
    taken_at = datetime.fromisoformat(extensions["takenAt"])
    assert timedelta(0) <= utcnow() - taken_at < timedelta(minutes=1)
    assert await count(services, Post.id) == 0


async def test_a_duplicate_that_passed_the_look_up_loses_at_its_first_write(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    # Another request holds the key in a transaction not yet committed: this one's look-up
    # finds nothing, so it runs, and its first write meets the key (waiting on the unique
    # index on PostgreSQL, on the writer's lock on SQLite) and is refused, writing nothing.
    ada = await sign_up(gql, "ada")
    async with services.runtime.read_sessionmaker() as session:
        account_id = await session.scalar(select(Account.id).where(Account.handle == "ada"))
    first = REGISTRY.get_sample_value("chirp_idempotent_requests_total", {"outcome": "first"})
    async with services.runtime.transactions.begin() as holder:
        await idempotency.take_key(
            holder,
            scope=idempotency.scope_of(account_id=account_id, client_ip=""),
            key="k-held",
            fingerprint=idempotency.fingerprint_of(
                operation_name="Post", document=CREATE_POST, variables=post_input("late")
            ),
            operation_name="Post",
            expires_at=utcnow() + timedelta(hours=1),
        )
        racing = asyncio.create_task(
            send(http, CREATE_POST, post_input("late"), key="k-held", token=ada.token)
        )

        async def looked_up() -> bool:
            now = REGISTRY.get_sample_value("chirp_idempotent_requests_total", {"outcome": "first"})
            return now == (first or 0) + 1

        await eventually(looked_up)
    answer = await racing

    assert answer.status_code == 409, answer.json()
    assert answer.json()["data"] is None
    assert code_of(answer) == "IDEMPOTENCY_KEY_IN_USE"
    assert answer.json()["errors"][0]["path"] == ["createPost"]
    assert await count(services, Post.id) == 0
