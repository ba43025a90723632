"""Limits against real `chirp serve` processes over real sockets: log-in limits shared by two
servers through Redis, request bodies refused before they are read, and the WebSocket
limits (connections per address and per account, messages per connection, message size,
document length). Client addresses vary through X-Forwarded-For, which the servers trust
from 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from app.settings import DEFAULT_RATE_LIMITS
from tests.support.accounts import PASSWORD
from tests.support.backends import REDIS_URL, answers, create_database
from tests.support.budgets import within_one_window
from tests.support.servers import ChirpServer, migrate, running
from tests.support.wsclient import GraphQLWebSocket

MIB = 1024 * 1024
LIMITED = {
    "TRUSTED_PROXIES": "127.0.0.1",
    "RATE_LIMIT_LOGIN_ACCOUNT_IP": DEFAULT_RATE_LIMITS["login.account_ip"],
    "RATE_LIMIT_WS_CONNECT_IP": "3/minute",
    "RATE_LIMIT_WS_CONNECT_ACCOUNT": "2/minute",
    "RATE_LIMIT_WS_MESSAGES_CONNECTION": "10/minute",
    "WS_MAX_OPEN_PER_ADDRESS": "2",
    "WS_MAX_CONNECTIONS": "4",
}
SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { ... on SessionPayload { token } }
}
"""
LOG_IN = """
mutation LogIn($login: String!, $password: String!) {
  logIn(input: {login: $login, password: $password}) { __typename ... on UserError { code } }
}
"""


@pytest.fixture(autouse=True)
async def one_window() -> None:
    """Counters in process memory keep windows that follow the clock: each test's hits fall
    within one window, or a boundary in the middle would let a weighted count slip."""
    await within_one_window(60, margin=6)


@pytest.fixture(scope="module")
async def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[ChirpServer, ChirpServer]]:
    """Two servers sharing one SQLite file and the machine's Redis (6379), with tight
    WebSocket limits and the default log-in limit per account and address."""
    if not answers("127.0.0.1", 6379):
        pytest.fail("Redis must answer on 127.0.0.1:6379 for these tests")
    directory = tmp_path_factory.mktemp("limits")
    database = await create_database("sqlite", directory)
    await migrate(database)
    prefix = f"chirp-it-{uuid.uuid4().hex[:8]}"
    a, b = (
        ChirpServer(
            name, database, directory, redis_url=REDIS_URL, redis_prefix=prefix, env=LIMITED
        )
        for name in ("a", "b")
    )
    async with running(request, a, b):
        yield a, b


@pytest.fixture
def server(servers: tuple[ChirpServer, ChirpServer]) -> ChirpServer:
    return servers[0]


async def graphql(url: str, query: str, variables: dict[str, Any], *, ip: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"x-forwarded-for": ip},
        )
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


async def sign_up(url: str, handle: str, *, ip: str) -> str:
    variables = {
        "input": {"handle": handle, "email": f"{handle}@example.com", "password": PASSWORD}
    }
    token: str = (await graphql(url, SIGN_UP, variables, ip=ip))["data"]["signUp"]["token"]
    return token


async def log_in(url: str, login: str, password: str, *, ip: str) -> str:
    payload = await graphql(url, LOG_IN, {"login": login, "password": password}, ip=ip)
    if payload.get("errors"):
        return str(payload["errors"][0]["extensions"]["code"])
    result = payload["data"]["logIn"]
    return str(result.get("code") or result["__typename"])


# -- log-in limits hold across two processes sharing Redis


async def test_log_in_limits_hold_across_two_servers_sharing_redis(
    servers: tuple[ChirpServer, ChirpServer],
) -> None:
    a, b = servers
    await sign_up(a.url, "shared", ip="198.51.100.1")

    guesses = [
        await log_in(server.url, "shared", f"guess {n}", ip="192.0.2.1")
        for n, server in enumerate([a, b, a, b, a])
    ]
    refused = [await log_in(s.url, "shared", PASSWORD, ip="192.0.2.1") for s in (b, a)]
    elsewhere = await log_in(b.url, "shared", PASSWORD, ip="192.0.2.2")

    # Five failures in all, whichever server counted them; either server refuses the sixth.
    assert guesses == ["INVALID_CREDENTIALS"] * 5
    assert refused == ["RATE_LIMITED", "RATE_LIMITED"]
    assert elsewhere == "SessionPayload"


# -- request bodies


async def test_a_20_mb_body_gets_413_over_a_real_socket(server: ChirpServer) -> None:
    # Only the headers are sent: the answer comes without the body ever being read.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: chirp\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {20 * MIB}\r\n\r\n".encode()
        )
        await writer.drain()
        async with asyncio.timeout(10):
            status_line = await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        whole = await http.post(
            "/graphql", content=b" " * (20 * MIB), headers={"content-type": "application/json"}
        )
        chunked = await http.post(
            "/graphql", content=_chunks(20 * MIB), headers={"content-type": "application/json"}
        )

    assert status_line.startswith(b"HTTP/1.1 413")
    assert whole.status_code == 413
    assert whole.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert chunked.status_code == 413


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for _ in range(total // size):
        yield b" " * size


# -- WebSockets


async def test_websocket_connections_per_address_are_limited_with_429(
    server: ChirpServer,
) -> None:
    mine = {"x-forwarded-for": "192.0.2.10"}
    for _ in range(3):  # one at a time: the rate of new connections, not how many are open
        async with GraphQLWebSocket.connect(server.ws_url, headers=mine) as ws:
            assert ws.ack_payload == {"viewer": None}
    with pytest.raises(InvalidStatus) as refused:
        async with GraphQLWebSocket.connect(server.ws_url, headers=mine):
            pass
    async with GraphQLWebSocket.connect(
        server.ws_url, headers={"x-forwarded-for": "192.0.2.11"}
    ) as other:
        assert other.ack_payload == {"viewer": None}

    response = refused.value.response
    assert response.status_code == 429
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert b'"limit":"ws_connect.ip"' in response.body


async def test_websockets_open_at_once_per_address_are_capped_with_429(
    server: ChirpServer,
) -> None:
    # Rates alone let one address pile up idle sockets (60 a minute by default, for hours).
    mine = {"x-forwarded-for": "192.0.2.12"}
    async with contextlib.AsyncExitStack() as stack:
        held = [
            await stack.enter_async_context(GraphQLWebSocket.connect(server.ws_url, headers=mine))
            for _ in range(2)
        ]
        with pytest.raises(InvalidStatus) as refused:
            await stack.enter_async_context(GraphQLWebSocket.connect(server.ws_url, headers=mine))

    assert [ws.ack_payload for ws in held] == [{"viewer": None}] * 2
    response = refused.value.response
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) == 30
    assert b'"limit":"ws_open.ip"' in response.body


async def test_a_process_holding_its_most_websockets_answers_handshakes_with_503(
    server: ChirpServer,
) -> None:
    """WS_MAX_CONNECTIONS (4 here) caps the sockets of one process, whatever their address:
    past it a handshake is shed with 503 and Retry-After; a closed socket frees its place."""
    async with contextlib.AsyncExitStack() as stack:
        held = [
            await stack.enter_async_context(
                GraphQLWebSocket.connect(
                    server.ws_url, headers={"x-forwarded-for": f"192.0.2.{31 + n}"}
                )
            )
            for n in range(4)
        ]
        with pytest.raises(InvalidStatus) as refused:
            await stack.enter_async_context(
                GraphQLWebSocket.connect(server.ws_url, headers={"x-forwarded-for": "192.0.2.35"})
            )
    async with GraphQLWebSocket.connect(
        server.ws_url, headers={"x-forwarded-for": "192.0.2.35"}
    ) as later:
        assert later.ack_payload == {"viewer": None}

    assert [ws.ack_payload for ws in held] == [{"viewer": None}] * 4
    response = refused.value.response
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert b'"code":"OVERLOADED"' in response.body


async def test_websocket_connections_per_account_are_limited_with_4029(
    server: ChirpServer,
) -> None:
    token = await sign_up(server.url, "socketeer", ip="192.0.2.20")
    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(
                GraphQLWebSocket.connect(
                    server.ws_url,
                    token=token,
                    headers={"x-forwarded-for": f"192.0.2.{21 + n}"},
                )
            )
            for n in range(2)
        ]
        third = await stack.enter_async_context(
            GraphQLWebSocket.connect(
                server.ws_url, init=False, headers={"x-forwarded-for": "192.0.2.23"}
            )
        )
        await third.send_init({"authorization": token})
        before_close = await third.until_closed()

    assert [s.ack_payload for s in sockets] == [{"viewer": "socketeer"}] * 2
    assert before_close == []
    assert third.close_code == 4029
    assert "Too many connections" in (third.close_reason or "")


async def test_websocket_messages_per_connection_are_limited_with_4029(
    server: ChirpServer,
) -> None:
    headers = {"x-forwarded-for": "192.0.2.30"}
    async with GraphQLWebSocket.connect(server.ws_url, headers=headers) as ws:
        pongs = []
        for _ in range(9):  # connection_init was the first of ten
            await ws.send({"type": "ping"})
            pongs.append((await ws.next_message())["type"])
        await ws.send({"type": "ping"})
        before_close = await ws.until_closed()

    assert pongs == ["pong"] * 9
    assert before_close == []
    assert ws.close_code == 4029


async def test_a_websocket_message_over_the_size_limit_closes_with_1009(
    server: ChirpServer,
) -> None:
    async with GraphQLWebSocket.connect(
        server.ws_url, headers={"x-forwarded-for": "192.0.2.40"}
    ) as ws:
        await ws.subscribe("big", "{ viewer { id } }" + " " * (70 * 1024))
        before_close = await ws.until_closed()

    assert before_close == []
    assert ws.close_code == 1009


async def test_a_websocket_message_nested_too_deeply_closes_as_bad_json(
    server: ChirpServer,
) -> None:
    # 30,000 brackets (60 KB, under the message limit) exhaust the JSON parser's recursion.
    deep = '{"type": "ping", "payload": ' + "[" * 30_000 + "]" * 30_000 + "}"
    async with GraphQLWebSocket.connect(
        server.ws_url, headers={"x-forwarded-for": "192.0.2.45"}
    ) as ws:
        await ws.connection.send(deep)
        before_close = await ws.until_closed()

    assert before_close == []
    assert ws.close_code == 4400  # graphql-transport-ws: a message that is not JSON


async def test_a_websocket_operation_name_that_is_not_a_string_is_bad_input(
    server: ChirpServer,
) -> None:
    async with GraphQLWebSocket.connect(
        server.ws_url, headers={"x-forwarded-for": "192.0.2.46"}
    ) as ws:
        await ws.send(
            {
                "type": "subscribe",
                "id": "named",
                "payload": {"query": "{ viewer { id } }", "operationName": 5},
            }
        )
        error = await ws.next_message()

    assert (error["type"], error["id"]) == ("error", "named")
    assert error["payload"][0]["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_a_websocket_document_of_comments_is_refused_before_parsing(
    server: ChirpServer,
) -> None:
    comments = ("# " + "x" * 78 + "\n") * 500  # 40,000 characters, under the message limit
    async with GraphQLWebSocket.connect(
        server.ws_url, headers={"x-forwarded-for": "192.0.2.50"}
    ) as ws:
        await ws.subscribe("long", comments + "{ viewer { id } }")
        error = await ws.next_message()
        await ws.subscribe("short", "# fine\n{ viewer { id } }")
        fine = await ws.next_message()

    assert error["type"] == "error" and error["id"] == "long"
    assert error["payload"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert (fine["id"], fine["type"]) == ("short", "next")
    assert fine["payload"]["data"] == {"viewer": None}
