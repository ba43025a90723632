"""Idempotent mutations over graphql-transport-ws: the key rides in the `subscribe`
payload's `extensions.idempotencyKey`; a retry on a new connection replays the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text
from starlette.applications import Starlette

from app.runtime import Services
from models.posts.tables import Post
from tests.conftest import eventually
from tests.support.accounts import CREATE_POST, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.servers import free_port, serving
from tests.support.wsclient import GraphQLWebSocket, Message


@pytest.fixture
async def ws_url(app: Starlette) -> AsyncIterator[str]:
    """The test's app served by uvicorn on a free local port (its lifespan already runs)."""
    port = free_port()
    async with serving(app, port):
        yield f"ws://127.0.0.1:{port}/graphql"


ME = "{ viewer { handle } }"


def keyed(id: str, query: str, variables: dict[str, Any], key: object) -> Message:
    """A `subscribe` message carrying an idempotency key."""
    payload = {"query": query, "variables": variables, "extensions": {"idempotencyKey": key}}
    return {"id": id, "type": "subscribe", "payload": payload}


async def run(url: str, token: str, variables: dict[str, Any], key: object) -> Message:
    """Send one keyed `createPost` on a new connection; its first answer."""
    async with GraphQLWebSocket.connect(url, token=token) as ws:
        await ws.send(keyed("1", CREATE_POST, variables, key))
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


async def test_a_keyed_mutation_runs_to_its_end_when_its_client_gives_up(
    ws_url: str, gql: GraphQLClient, services: Services
) -> None:
    # The client sends `complete` (as it does when it stops waiting) while the mutation is
    # held up by a lock the test holds. Cancelled, it would write nothing and the retry would
    # run again; it is not: once the lock goes it commits and stores its answer, and the
    # retry is its replay.
    ada = await sign_up(gql, "ada")
    variables = {"input": {"body": "given up on"}}
    looked_up = REGISTRY.get_sample_value("chirp_idempotent_requests_total", {"outcome": "first"})
    async with services.runtime.transactions.begin() as holder:
        await holder.execute(text("DELETE FROM posts WHERE id < 0"))  # SQLite: the writer lock
        if holder.get_bind().dialect.name == "postgresql":
            await holder.execute(text("LOCK TABLE posts IN EXCLUSIVE MODE"))
        async with GraphQLWebSocket.connect(ws_url, token=ada.token) as ws:
            await ws.send(keyed("1", CREATE_POST, variables, "ws-held"))

            async def running() -> bool:
                now = REGISTRY.get_sample_value(
                    "chirp_idempotent_requests_total", {"outcome": "first"}
                )
                return now == (looked_up or 0) + 1

            await eventually(running)
            await ws.complete("1")
            # Messages are handled in order: once this is answered, `complete` was handled.
            await ws.send({"id": "2", "type": "subscribe", "payload": {"query": ME}})
            assert await ws.next_data("2") == {"viewer": {"handle": "ada"}}

    async def original_committed() -> bool:
        return await posts(services) == 1

    # The lock is gone: the given-up mutation commits on its own. (A retry sent now could
    # reach the writer lock first on SQLite and run as the first, the original then finding
    # the key in use: the property holds, but the replay would not be what is checked.)
    await eventually(original_committed)
    answers: list[Message] = []

    async def answered() -> bool:
        answers.append(await run(ws_url, ada.token, variables, "ws-held"))
        return answers[-1]["type"] == "next" and answers[-1]["payload"]["data"] is not None

    await eventually(answered)

    assert answers[-1]["payload"]["data"]["createPost"]["__typename"] == "PostPayload"
    assert answers[-1]["payload"]["extensions"]["idempotentReplay"] is True
    for refused in answers[:-1]:
        # Found in use when it looked (a request error) or at its first write (on the field).
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_USE", refused
    assert await posts(services) == 1


async def test_a_key_on_a_subscription_changes_nothing(
    ws_url: str, gql: GraphQLClient, services: Services
) -> None:
    # `complete` still ends a subscription sent with a key (only keyed mutations outlive
    # their client), and the connection goes on serving.
    ada = await sign_up(gql, "ada")
    hub = services.runtime.hub
    before = hub.listener_count
    async with GraphQLWebSocket.connect(ws_url, token=ada.token) as ws:
        await ws.send(
            {
                "id": "feed",
                "type": "subscribe",
                "payload": {
                    "query": "subscription { publicFeed { cursor } }",
                    "extensions": {"idempotencyKey": "not for subscriptions"},
                },
            }
        )

        async def started() -> bool:
            return hub.listener_count > before

        await eventually(started)
        await ws.complete("feed")

        async def ended() -> bool:
            return hub.listener_count == before

        await eventually(ended)
        await ws.send({"id": "me", "type": "subscribe", "payload": {"query": ME}})
        assert await ws.next_data("me") == {"viewer": {"handle": "ada"}}
