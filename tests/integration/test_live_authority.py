"""Open subscriptions obey every change of what their viewer may do, over the real
`graphql-transport-ws` protocol against a real `chirp serve`: a role revoked at the command
line, a second factor turned off, a suspension; and staff reads through a subscription are
audited per event, as over HTTP per request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from app import db
from app.settings import Settings
from models.audit.tables import AuditEntry
from resolvers.paging import parse_global_id
from tests.integration.test_live_updates import (
    BACKENDS,
    CLOSE_SESSION_REVOKED,
    EVENT_WAIT,
    HOME_TIMELINE,
    PUBLIC_FEED,
    go_live,
    handle,
    new_database,
    poster,
)
from tests.support.accounts import PASSWORD, User, post, sign_up
from tests.support.backends import drop_database
from tests.support.cli import run_cli_async
from tests.support.graphql import GraphQLClient
from tests.support.moderation import SUSPEND_ACCOUNT, act
from tests.support.servers import ChirpServer, running
from tests.support.staff import enrol_totp, grant_as_operator, totp_code
from tests.support.wsclient import GraphQLWebSocket

pytestmark = pytest.mark.processes

CREDENTIALS_CHANGED = "Credentials changed; reconnect"
# The attack of issue 11, item 3: a staff member's live public feed with every author's
# email, sessions and log-in history.
STAFF_FEED = """
subscription ($after: String) {
  publicFeed(after: $after) {
    cursor
    post {
      body
      author {
        handle
        email
        sessions(first: 5) { edges { node { ip userAgent } } }
        loginHistory(first: 5) { edges { node { at ip userAgent succeeded } } }
      }
    }
  }
}
"""
DISABLE_TOTP = """
mutation ($code: String!, $password: String!) {
  disableTotp(input: {code: $code, password: $password}) { __typename }
}
"""


@pytest.fixture(scope="module", params=BACKENDS)
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ChirpServer]:
    directory = tmp_path_factory.mktemp("authority")
    database = await new_database(request.param, directory)
    chirp = ChirpServer("authority", database, directory, redis_url=database.redis_url)
    try:
        async with running(request, chirp):
            yield chirp
    finally:
        await drop_database(database)


async def staff_member(server: ChirpServer, gql: GraphQLClient, role: str) -> tuple[User, str]:
    """An account with TOTP on (enrolled before the grant, as an account with a second factor
    may be) holding `role`, in a session that proved TOTP; and its TOTP secret."""
    user = await sign_up(gql, handle(role.lower()))
    secret, _ = await enrol_totp(gql, user)
    await grant_as_operator(server.database.url, user.handle, role)
    return user, secret


async def email_reads(server: ChirpServer, account_id: str) -> int:
    """How many `read.email` entries of this account the server's audit log holds."""
    _, key = parse_global_id(account_id, expect="Account", field="id")
    engine = db.create_engine(Settings(env="test", database_url=server.database.url))
    try:
        async with db.create_read_sessionmaker(engine)() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "read.email", AuditEntry.target_id == str(key))
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def feed_events(ws: GraphQLWebSocket, count: int) -> list[dict[str, Any]]:
    return [(await ws.next_data("feed", within=EVENT_WAIT))["publicFeed"] for _ in range(count)]


async def test_a_revoked_role_closes_a_staff_subscription_whose_reads_were_each_audited(
    server: ChirpServer,
) -> None:
    async with server.graphql() as gql:
        support, _ = await staff_member(server, gql, "SUPPORT")
        author = await sign_up(gql, handle("author"))
        async with GraphQLWebSocket.connect(server.ws_url, token=support.token) as ws:
            await ws.subscribe("feed", STAFF_FEED)
            await go_live(ws, "feed", "publicFeed", poster(gql, author))
            reads_live = await email_reads(server, author.id)
            await post(gql, author, "first while watched")
            await post(gql, author, "second while watched")
            watched = await feed_events(ws, 2)
            reads_after_two = await email_reads(server, author.id)

            revoked = await run_cli_async(
                "admin",
                "revoke-role",
                support.handle,
                "SUPPORT",
                "--reason",
                "left the support team",
                DATABASE_URL=server.database.url,
                CHIRP_ENV="test",
            )
            await post(gql, author, "after the revocation")
            after_revocation = await ws.until_closed(within=EVENT_WAIT)

        # Reconnecting resumes the stream (the change it closed for is not replayed), and the
        # staff fields are refused from then on.
        async with GraphQLWebSocket.connect(server.ws_url, token=support.token) as again:
            await again.subscribe("feed", STAFF_FEED, {"after": watched[-1]["cursor"]})
            resumed = await again.next_message(within=EVENT_WAIT)

    assert [e["post"]["body"] for e in watched] == ["first while watched", "second while watched"]
    assert {e["post"]["author"]["email"] for e in watched} == {f"{author.handle}@example.com"}
    assert all(e["post"]["author"]["sessions"]["edges"] for e in watched)
    # One audited read per event delivered, as one per HTTP request.
    assert reads_live >= 1
    assert reads_after_two == reads_live + 2
    assert revoked.returncode == 0, revoked.stderr
    assert after_revocation == []
    assert (ws.close_code, ws.close_reason) == (CLOSE_SESSION_REVOKED, CREDENTIALS_CHANGED)
    assert resumed["type"] == "next" and resumed["payload"]["data"] is None, resumed
    assert {e["extensions"]["code"] for e in resumed["payload"]["errors"]} == {"FORBIDDEN"}
    assert await email_reads(server, author.id) == reads_after_two


async def test_turning_the_second_factor_off_closes_the_accounts_subscriptions(
    server: ChirpServer,
) -> None:
    async with server.graphql() as gql:
        member = await sign_up(gql, handle("member"))
        secret, _ = await enrol_totp(gql, member)
        async with GraphQLWebSocket.connect(server.ws_url, token=member.token) as ws:
            await ws.subscribe("home", HOME_TIMELINE)
            await go_live(ws, "home", "homeTimeline", poster(gql, member))

            off = await gql.execute(
                DISABLE_TOTP,
                {"code": totp_code(secret, 1), "password": PASSWORD},
                token=member.token,
            )
            before_close = await ws.until_closed(within=EVENT_WAIT)

    assert off["disableTotp"] == {"__typename": "TotpDisabled"}
    assert before_close == []
    assert (ws.close_code, ws.close_reason) == (CLOSE_SESSION_REVOKED, CREDENTIALS_CHANGED)


async def test_a_suspension_closes_a_staff_members_subscriptions_at_once(
    server: ChirpServer,
) -> None:
    async with server.graphql() as gql:
        moderator, _ = await staff_member(server, gql, "MODERATOR")
        support, _ = await staff_member(server, gql, "SUPPORT")
        author = await sign_up(gql, handle("author"))
        async with GraphQLWebSocket.connect(server.ws_url, token=support.token) as ws:
            await ws.subscribe("feed", PUBLIC_FEED)
            await go_live(ws, "feed", "publicFeed", poster(gql, author))

            suspended = await act(
                gql, SUSPEND_ACCOUNT, moderator, accountId=support.id, reason="live test"
            )
            before_close = await ws.until_closed(within=EVENT_WAIT)

    assert suspended["__typename"] == "StrikePayload"
    assert before_close == []
    assert ws.close_code == CLOSE_SESSION_REVOKED


async def test_an_idle_sockets_next_operation_obeys_a_second_factor_turned_off(
    server: ChirpServer,
) -> None:
    """A socket proved TOTP at `connection_init`; TOTP is turned off while it holds no
    subscription (nothing to close), then a role is granted: the role must not count on
    that socket, whose session no longer counts as having proved a second factor."""
    roles_feed = "subscription { publicFeed { post { body author { roles } } } }"
    async with server.graphql() as gql:
        member = await sign_up(gql, handle("member"))
        secret, _ = await enrol_totp(gql, member)
        async with (
            GraphQLWebSocket.connect(server.ws_url, token=member.token) as ws,
            GraphQLWebSocket.connect(server.ws_url) as watcher,
        ):
            await gql.execute(
                DISABLE_TOTP,
                {"code": totp_code(secret, 1), "password": PASSWORD},
                token=member.token,
            )
            await grant_as_operator(server.database.url, member.handle, "MODERATOR")
            # Events arrive in order: once a later post has, the grant's event has passed
            # the socket, which holds no subscription it could have closed.
            await watcher.subscribe("feed", PUBLIC_FEED)
            await go_live(watcher, "feed", "publicFeed", poster(gql, member))
            await ws.subscribe("feed", roles_feed)
            refused: dict[str, Any] | None = None
            for attempt in range(20):  # until the subscription listens
                await post(gql, member, f"marker {attempt}")
                message = await ws.next_message(within=EVENT_WAIT)
                if message["type"] == "next":
                    refused = message["payload"]
                    break

    assert refused is not None
    assert refused["data"] is None
    [error] = refused["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN", "reason": "SECOND_FACTOR_REQUIRED"}


PUBLIC_POSTS = """
subscription ($after: String) {
  publicFeed(after: $after) { cursor post { body likeCount author { handle viewerFollows } } }
}
"""


async def test_staff_and_members_share_public_reads_and_staff_fields_reach_staff_only(
    server: ChirpServer,
) -> None:
    """Subscribers with and without a staff role, together on one server: a document of
    public fields is answered alike for both (one shared read); a document with staff fields
    runs per subscriber, and only the staff member's events hold them (and are audited)."""
    async with server.graphql() as gql:
        support, _ = await staff_member(server, gql, "SUPPORT")
        member = await sign_up(gql, handle("member"))
        author = await sign_up(gql, handle("author"))
        async with (
            GraphQLWebSocket.connect(server.ws_url, token=support.token) as staff_ws,
            GraphQLWebSocket.connect(server.ws_url, token=member.token) as member_ws,
        ):
            await staff_ws.subscribe("first", PUBLIC_POSTS)
            start = await go_live(staff_ws, "first", "publicFeed", poster(gql, author))
            for ws in (staff_ws, member_ws):
                await ws.subscribe("public", PUBLIC_POSTS, {"after": start})
                await ws.subscribe("staff", STAFF_FEED, {"after": start})
            reads_before = await email_reads(server, author.id)
            await post(gql, author, "seen by both")
            got: dict[tuple[str, str], dict[str, Any]] = {}
            for name, ws in (("staff", staff_ws), ("member", member_ws)):
                while len([k for k in got if k[0] == name]) < 2:
                    message = await ws.next_message(within=EVENT_WAIT)
                    if message["id"] != "first":
                        got[(name, message["id"])] = message["payload"]
            reads_after = await email_reads(server, author.id)

    assert got[("staff", "public")]["data"] == got[("member", "public")]["data"]
    assert got[("member", "public")]["data"]["publicFeed"]["post"]["body"] == "seen by both"
    staff_feed = got[("staff", "staff")]
    assert "errors" not in staff_feed, staff_feed
    assert staff_feed["data"]["publicFeed"]["post"]["author"]["email"] == (
        f"{author.handle}@example.com"
    )
    refused = got[("member", "staff")]
    assert {e["extensions"]["code"] for e in refused["errors"]} == {"FORBIDDEN"}
    assert "@example.com" not in json.dumps(refused)
    assert reads_after == reads_before + 1  # the staff member's event only
