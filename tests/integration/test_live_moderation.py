"""Moderation reaches live subscriptions, over the real `graphql-transport-ws` protocol
against a real `chirp serve`: a hidden post ends its `postUpdated` stream, a limited account's
posts stay out of the live public feed, and a suspension closes the account's sockets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.integration.test_live_updates import (
    CLOSE_SESSION_REVOKED,
    EVENT_WAIT,
    HOME_TIMELINE,
    POST_UPDATED,
    PUBLIC_FEED,
    go_live,
    new_database,
    poster,
    receive,
)
from tests.support.accounts import User, post, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.moderation import HIDE_POST, LIMIT_ACCOUNT, SUSPEND_ACCOUNT, act
from tests.support.servers import ChirpServer, running
from tests.support.staff import enrol_totp, grant_as_operator
from tests.support.wsclient import GraphQLWebSocket

pytestmark = pytest.mark.processes


def handle(name: str) -> str:
    return f"{name}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ChirpServer]:
    directory = tmp_path_factory.mktemp("moderation")
    database = await new_database("sqlite", directory)
    chirp = ChirpServer("moderation", database, directory, redis_url=None)
    async with running(request, chirp):
        yield chirp


async def moderator(gql: GraphQLClient, server: ChirpServer) -> User:
    user = await sign_up(gql, handle("mod"))
    await enrol_totp(gql, user)
    await grant_as_operator(server.database.url, user.handle, "MODERATOR")
    return user


async def test_hiding_a_post_ends_its_live_updates_for_others(server: ChirpServer) -> None:
    async with server.graphql() as gql:
        staff = await moderator(gql, server)
        author = await sign_up(gql, handle("author"))
        post_id = await post(gql, author, "about to be hidden")
        async with GraphQLWebSocket.connect(server.ws_url) as anonymous:
            await anonymous.subscribe("updates", POST_UPDATED, {"id": post_id})
            # A like (by the author) proves the stream is live before the hide.
            like = "mutation ($id: ID!) { likePost(input: {postId: $id}) { __typename } }"
            liked: list[dict[str, object]] = []
            while not liked:
                await gql.execute(like, {"id": post_id}, token=author.token)
                liked = await receive(anonymous, "updates", "postUpdated", 1)

            hidden = await act(gql, HIDE_POST, staff, postId=post_id, reason="live test")
            ended = await anonymous.next_message(within=EVENT_WAIT)

    assert hidden["__typename"] == "StrikePayload"
    assert ended == {"id": "updates", "type": "complete"}


async def test_a_limited_accounts_posts_stay_out_of_the_live_public_feed(
    server: ChirpServer,
) -> None:
    async with server.graphql() as gql:
        staff = await moderator(gql, server)
        limited = await sign_up(gql, handle("limited"))
        other = await sign_up(gql, handle("other"))
        async with GraphQLWebSocket.connect(server.ws_url, token=limited.token) as own:
            await own.subscribe("feed", PUBLIC_FEED)
            await go_live(own, "feed", "publicFeed", poster(gql, other))
            async with GraphQLWebSocket.connect(server.ws_url) as anonymous:
                await anonymous.subscribe("feed", PUBLIC_FEED)
                await go_live(anonymous, "feed", "publicFeed", poster(gql, other))
                await act(gql, LIMIT_ACCOUNT, staff, accountId=limited.id, reason="live test")

                await post(gql, limited, "only for my followers now")
                await post(gql, other, "everyone sees this")
                [seen] = await receive(anonymous, "feed", "publicFeed", 1)
                own_view: list[str] = []
                while "everyone sees this" not in own_view:
                    [event] = await receive(own, "feed", "publicFeed", 1)
                    own_view.append(event["post"]["body"])

    assert seen["post"]["body"] == "everyone sees this"
    # The author still sees their own posts (the anonymous socket's markers pass by too).
    assert [b for b in own_view if not b.startswith("marker")] == [
        "only for my followers now",
        "everyone sees this",
    ]


async def test_a_suspension_closes_the_accounts_subscriptions(server: ChirpServer) -> None:
    async with server.graphql() as gql:
        staff = await moderator(gql, server)
        member = await sign_up(gql, handle("member"))
        async with GraphQLWebSocket.connect(server.ws_url, token=member.token) as ws:
            await ws.subscribe("home", HOME_TIMELINE)
            await go_live(ws, "home", "homeTimeline", poster(gql, member))

            await act(gql, SUSPEND_ACCOUNT, staff, accountId=member.id, reason="live test")
            before_close = await ws.until_closed(within=EVENT_WAIT)

    assert before_close == []
    assert ws.close_code == CLOSE_SESSION_REVOKED
