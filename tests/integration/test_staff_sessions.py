"""Support ending sessions closes their live subscriptions at once: a real `chirp serve`,
a real WebSocket (`graphql-transport-ws`), like the live-update tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.test_live_updates import (
    CLOSE_SESSION_REVOKED,
    HOME_TIMELINE,
    PUBSUB_WAIT,
    go_live,
    handle,
    new_database,
    poster,
)
from tests.support.accounts import PASSWORD, User, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.servers import ChirpServer, running
from tests.support.staff import enrol_totp, grant_as_operator
from tests.support.wsclient import GraphQLWebSocket

pytestmark = pytest.mark.processes

SESSIONS = """
query ($id: ID!) { node(id: $id) { ... on Account { sessions(first: 10) { edges { node { id } } } } } }
"""
END_SESSION = """
mutation ($i: EndSessionInput!) {
  endSession(input: $i) { __typename ... on SessionsEndedPayload { sessionsEnded } }
}
"""
END_ALL = """
mutation ($i: EndAllSessionsInput!) {
  endAllSessions(input: $i) { __typename ... on SessionsEndedPayload { sessionsEnded } }
}
"""
LOG_IN = """
mutation ($input: LogInInput!) { logIn(input: $input) { ... on SessionPayload { token } } }
"""


@pytest.fixture(scope="module")
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ChirpServer]:
    directory = tmp_path_factory.mktemp("staff-sessions")
    database = await new_database("sqlite", directory)
    chirp = ChirpServer("staff-sessions", database, directory, redis_url=None)
    async with running(request, chirp):
        yield chirp


async def support_member(server: ChirpServer, gql: GraphQLClient) -> User:
    """A SUPPORT account, granted by the operator, in a session that proved TOTP."""
    user = await sign_up(gql, handle("support"))
    await enrol_totp(gql, user)
    await grant_as_operator(server.database.url, user.handle, "SUPPORT")
    return user


async def test_ending_a_session_closes_its_subscriptions_at_once(server: ChirpServer) -> None:
    async with server.graphql() as gql:
        victim = await sign_up(gql, handle("victim"))
        support = await support_member(server, gql)
        sessions = await gql.execute(SESSIONS, {"id": victim.id}, token=support.token)
        [edge] = sessions["node"]["sessions"]["edges"]
        async with GraphQLWebSocket.connect(server.ws_url, token=victim.token) as ws:
            await ws.subscribe("home", HOME_TIMELINE)
            await go_live(ws, "home", "homeTimeline", poster(gql, victim))

            ended = await gql.execute(
                END_SESSION,
                {"i": {"sessionId": edge["node"]["id"], "reason": "reported stolen"}},
                token=support.token,
            )
            before_close = await ws.until_closed(within=PUBSUB_WAIT)

    assert ended["endSession"] == {"__typename": "SessionsEndedPayload", "sessionsEnded": 1}
    assert before_close == []
    assert (ws.close_code, ws.close_reason) == (CLOSE_SESSION_REVOKED, "Session revoked")


async def test_ending_all_sessions_closes_every_device(server: ChirpServer) -> None:
    async with server.graphql() as gql:
        victim = await sign_up(gql, handle("victim"))
        laptop = (
            await gql.execute(LOG_IN, {"input": {"login": victim.handle, "password": PASSWORD}})
        )["logIn"]["token"]
        support = await support_member(server, gql)
        async with (
            GraphQLWebSocket.connect(server.ws_url, token=victim.token) as phone_ws,
            GraphQLWebSocket.connect(server.ws_url, token=laptop) as laptop_ws,
        ):
            await phone_ws.subscribe("home", HOME_TIMELINE)
            await go_live(phone_ws, "home", "homeTimeline", poster(gql, victim))
            await laptop_ws.subscribe("home", HOME_TIMELINE)
            await go_live(laptop_ws, "home", "homeTimeline", poster(gql, victim))

            ended = await gql.execute(
                END_ALL,
                {"i": {"accountId": victim.id, "reason": "account hijacked"}},
                token=support.token,
            )
            phone_before = await phone_ws.until_closed(within=PUBSUB_WAIT)
            laptop_before = await laptop_ws.until_closed(within=PUBSUB_WAIT)

    assert ended["endAllSessions"]["sessionsEnded"] == 2
    # The phone also received the laptop's go-live markers (one viewer, one home timeline).
    leftovers = [m["payload"]["data"]["homeTimeline"]["post"]["body"] for m in phone_before]
    assert all(body.startswith("marker") for body in leftovers), phone_before
    assert laptop_before == []
    assert phone_ws.close_code == laptop_ws.close_code == CLOSE_SESSION_REVOKED
