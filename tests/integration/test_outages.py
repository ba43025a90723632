"""While PostgreSQL does not answer, every HTTP answer is GraphQL-shaped (`SERVICE_UNAVAILABLE`
with the request id, HTTP 503 with Retry-After), from every path a request can take: a
compiled read, the general executor, bearer authentication in a middleware; never a
plain-text 500. Once it is back, requests succeed again. The test runs its own PostgreSQL
cluster (initdb on a free port) and stops it; the machine's own is never touched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import eventually
from tests.support.accounts import sign_up
from tests.support.backends import Database
from tests.support.servers import ChirpServer, PostgresServer, migrate, running

pytestmark = pytest.mark.processes

FEED = "{ publicFeed(first: 2) { edges { cursor } } }"  # a compiled read
VIEWER = "{ viewer { handle } }"  # the general executor, after bearer authentication
SIGN_UP = """
mutation { signUp(input: {handle: "late", email: "late@example.com",
  password: "correct horse battery"}) {
  __typename } }
"""


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[PostgresServer]:
    server = PostgresServer(tmp_path)
    await server.create()
    await server.start()
    try:
        yield server
    finally:
        await server.remove()


async def test_while_postgresql_is_down_every_answer_is_graphql_shaped(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresServer
) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=postgres.port, user="postgres")
    try:
        await conn.execute("CREATE DATABASE chirp")
    finally:
        await conn.close()
    database = Database("postgres", postgres.url("chirp"), None, "chirp")
    await migrate(database)
    # JSON logs, as in production: the console renderer formats each traceback at length.
    chirp = ChirpServer("outage", database, tmp_path, redis_url=None, env={"LOG_FORMAT": "json"})
    async with running(request, chirp), chirp.graphql() as gql:
        user = await sign_up(gql, "steady")
        auth = {"authorization": f"Bearer {user.token}"}
        async with httpx.AsyncClient(base_url=chirp.url, timeout=30) as http:
            await postgres.stop()
            answers = [
                await http.post("/graphql", json={"query": FEED}),
                await http.get("/graphql", params={"query": FEED}),
                await http.post("/graphql", json={"query": VIEWER}, headers=auth),
                await http.post("/graphql", json={"query": SIGN_UP}),
            ]
            ready = await http.get("/readyz")
            await postgres.start()

            async def answers_again() -> bool:
                response = await http.post("/graphql", json={"query": VIEWER}, headers=auth)
                return response.status_code == 200 and "errors" not in response.json()

            await eventually(answers_again, timeout=30)

    for response in answers:
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/"), response.headers
        assert response.headers["retry-after"] == "5"
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
        assert error["extensions"]["requestId"] == response.headers["x-request-id"]
        assert "Internal Server Error" not in response.text
    assert ready.status_code == 503
