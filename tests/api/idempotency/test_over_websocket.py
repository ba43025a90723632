"""Idempotent mutations over graphql-transport-ws: the key rides in the `subscribe`
payload's `extensions.idempotencyKey`; a retry on a new connection replays the answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette

from app.runtime import Services
from models.posts.tables import Post
from tests.support.accounts import CREATE_POST, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.servers import free_port
from tests.support.wsclient import GraphQLWebSocket, Message


@pytest.fixture
async def ws_url(app: Starlette) -> AsyncIterator[str]:
    """The test's app served by uvicorn on a free local port (its lifespan already runs)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


async def run(url: str, token: str, variables: dict[str, Any], key: object) -> Message:
    """Send one keyed `createPost` on a new connection; its first answer."""
    async with GraphQLWebSocket.connect(url, token=token) as ws:
        await ws.send(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {
                    "query": CREATE_POST,
                    "variables": variables,
                    "extensions": {"idempotencyKey": key},
                },
            }
        )
        return await ws.next_message()


async def posts(services: Services) -> int:
    async with services.runtime.read_sessionmaker() as session:
        return int(await session.scalar(select(func.count(Post.id))) or 0)


async def test_a_retry_on_a_new_connection_replays_the_answer(
    ws_url: str, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")
    variables = {"input": {"body": "over the socket"}}

    first = await run(ws_url, ada.token, variables, "ws-1")
    again = await run(ws_url, ada.token, variables, "ws-1")

    assert first["type"] == again["type"] == "next"
    assert first["payload"]["data"]["createPost"]["__typename"] == "PostPayload"
    assert again["payload"]["data"] == first["payload"]["data"]
    assert again["payload"]["extensions"]["idempotentReplay"] is True
    assert "idempotentReplay" not in first["payload"].get("extensions", {})
    assert await posts(services) == 1


async def test_the_same_key_over_http_and_the_socket_is_one_key(
    ws_url: str, gql: GraphQLClient, services: Services
) -> None:
    # The scope is the account, whatever the transport.
    ada = await sign_up(gql, "ada")
    variables = {"input": {"body": "either way"}}
    over_http = await gql.http.post(
        "/graphql",
        json={"query": CREATE_POST, "variables": variables},
        headers={"authorization": f"Bearer {ada.token}", "idempotency-key": "both"},
    )

    over_socket = await run(ws_url, ada.token, variables, "both")

    assert over_socket["payload"]["data"] == over_http.json()["data"]
    assert over_socket["payload"]["extensions"]["idempotentReplay"] is True
    assert await posts(services) == 1


@pytest.mark.parametrize(
    ("key", "code"), [(42, "IDEMPOTENCY_KEY_INVALID"), ("", "IDEMPOTENCY_KEY_INVALID")]
)
async def test_a_bad_key_is_an_error_message(
    ws_url: str, gql: GraphQLClient, services: Services, key: object, code: str
) -> None:
    ada = await sign_up(gql, "ada")

    answer = await run(ws_url, ada.token, {"input": {"body": "no"}}, key)

    assert answer["type"] == "error", answer
    assert answer["payload"][0]["extensions"]["code"] == code
    assert await posts(services) == 0


async def test_a_reused_key_is_an_error_message(
    ws_url: str, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")
    await run(ws_url, ada.token, {"input": {"body": "first"}}, "ws-2")

    answer = await run(ws_url, ada.token, {"input": {"body": "second"}}, "ws-2")

    assert answer["type"] == "error", answer
    assert answer["payload"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await posts(services) == 1
