"""Shared live delivery (`schema/live/shared.py`) answers exactly as the general executor
does, per subscriber, and reads each event once per document in a process.

Two `chirp serve` processes share one database and one Redis channel: one delivers with
shared reads (the default), the other with LIVE_SHARED_DELIVERY=false (each subscriber's own
execution). The same viewers, each with a different relation to the authors (a fan, one who
mutes, one who blocks, one who likes, a signed-out reader), subscribe on both with a document
that asks for every viewer-dependent field; every event each of them receives must be the
same on both servers, and the differences between viewers must be there."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.integration.test_live_updates import (
    BACKENDS,
    EVENT_WAIT,
    LIKE_POST,
    fresh_database,
    go_live,
    handle,
    poster,
)
from tests.support.accounts import User, follow, post, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.servers import ChirpServer, RedisServer, running
from tests.support.wsclient import GraphQLWebSocket

pytestmark = pytest.mark.processes

POST_FIELDS = """
  id body visibility createdAt likeCount repostCount replyCount viewerHasLiked
  author { id handle viewerFollows followersCount }
  repostOf { id body replyCount viewerHasLiked author { handle viewerFollows } }
  replyTo { id body author { handle } }
"""
RICH_HOME = f"""
subscription Home($after: String) {{
  homeTimeline(after: $after) {{ __typename cursor post {{ {POST_FIELDS} }} }}
}}
"""
RICH_FEED = f"""
subscription Feed($after: String) {{
  feed: publicFeed(after: $after) {{ cursor post {{ ...Shown }} }}
}}
fragment Shown on Post {{ {POST_FIELDS} }}
"""
MUTE = "mutation ($id: ID!) { muteAccount(input: {accountId: $id}) { __typename } }"
BLOCK = "mutation ($id: ID!) { blockAccount(input: {accountId: $id}) { __typename } }"
REPOST = """
mutation ($id: ID!) {
  repostPost(input: {postId: $id}) { __typename ... on PostPayload { post { id } } }
}
"""
Step = Callable[[], Awaitable[object]]
PUBLIC = "subscription { publicFeed { cursor post { body } } }"  # nothing loaded after the row
END = "the end"
SYNC = "sync"


async def _act(gql: GraphQLClient, document: str, user: User, **variables: Any) -> Any:
    return await gql.execute(document, variables, token=user.token)


async def _collect(
    ws: GraphQLWebSocket, ids: dict[str, str], last: str
) -> dict[str, list[dict[str, Any]]]:
    """Every `next` message of each subscription (id → root field) up to the post `last`."""
    got: dict[str, list[dict[str, Any]]] = {op: [] for op in ids}
    open_ids = set(ids)
    while open_ids:
        message = await ws.next_message(within=EVENT_WAIT)
        assert message["type"] == "next", message
        op = message["id"]
        payload = message["payload"]
        assert "errors" not in payload, payload
        got[op].append(payload)
        if payload["data"][ids[op]]["post"]["body"] == last:
            open_ids.discard(op)
    return got


def _live_reads(metrics: str) -> tuple[float, float]:
    """The shared reads made and the subscribers they answered, from /metrics."""
    reads = re.search(r"^chirp_live_reads_total (\S+)$", metrics, re.M)
    viewers = re.search(r"^chirp_live_read_viewers_sum (\S+)$", metrics, re.M)
    return (
        float(reads.group(1)) if reads else 0.0,
        float(viewers.group(1)) if viewers else 0.0,
    )


async def _scrape(server: ChirpServer) -> str:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize("backend", BACKENDS)
async def test_shared_delivery_answers_each_viewer_as_the_general_executor_does(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    async with fresh_database(backend, tmp_path) as database:
        redis = RedisServer(tmp_path) if database.redis_url is None else None
        redis_url = database.redis_url or (redis.url if redis else None)
        prefix = f"chirp-it-{uuid.uuid4().hex[:8]}"
        shared = ChirpServer("shared", database, tmp_path, redis_url=redis_url, redis_prefix=prefix)
        general = ChirpServer(
            "general",
            database,
            tmp_path,
            redis_url=redis_url,
            redis_prefix=prefix,
            env={"LIVE_SHARED_DELIVERY": "false"},
        )
        processes = [p for p in (redis, shared, general) if p is not None]
        async with running(request, *processes), shared.graphql() as gql:
            a = await sign_up(gql, handle("alice"))
            b = await sign_up(gql, handle("bob"))
            c = await sign_up(gql, handle("carol"))
            fan = await sign_up(gql, handle("fan"))
            muter = await sign_up(gql, handle("muter"))
            blocker = await sign_up(gql, handle("blocker"))
            liker = await sign_up(gql, handle("liker"))
            for viewer in (fan, muter, blocker, liker):
                await follow(gql, viewer, a)
            for viewer, followee in ((fan, b), (fan, c), (blocker, c), (b, a), (muter, b)):
                await follow(gql, viewer, followee)
            await _act(gql, MUTE, muter, id=b.id)
            await _act(gql, BLOCK, blocker, id=b.id)

            # A cursor at the end of the log: every subscription resumes from it, so none
            # misses an event, whenever it starts listening.
            async with GraphQLWebSocket.connect(shared.ws_url, token=fan.token) as first:
                await first.subscribe("home", RICH_HOME)
                start = await go_live(first, "home", "homeTimeline", poster(gql, a))

            sockets: list[tuple[str, str, GraphQLWebSocket, Any]] = []
            viewers: dict[str, User | None] = {
                "fan": fan,
                "muter": muter,
                "blocker": blocker,
                "liker": liker,
                "anonymous": None,
            }
            received: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
            for server in (shared, general):
                for name, user in viewers.items():
                    context = GraphQLWebSocket.connect(
                        server.ws_url, token=None if user is None else user.token
                    )
                    ws = await context.__aenter__()
                    sockets.append((server.name, name, ws, context))
                    if user is not None:
                        await ws.subscribe("home", RICH_HOME, {"after": start})
                    await ws.subscribe("feed", RICH_FEED, {"after": start})
            try:
                reads_before = _live_reads(await _scrape(shared))
                # The events: B's post (muted by one, blocked by another), A's repost of it,
                # a followers-only post, B's reply to it, a like, C's repost of a post with
                # a reply the blocker may not see. After each, a marker every subscription
                # receives: both servers then read each post before the next change (a post
                # is read as it is when delivered; a like after one server read it and
                # before the other did would differ).
                made: dict[str, str] = {}

                def posting(author: User, body: str, **extra: Any) -> Step:
                    async def step() -> None:
                        made[body] = await post(gql, author, body, **extra)

                    return step

                steps: list[Step] = [
                    posting(b, "b1 public"),
                    lambda: _act(gql, REPOST, a, id=made["b1 public"]),
                    posting(a, "a followers only", visibility="FOLLOWERS"),
                    lambda: post(gql, b, "b replies", replyToId=made["a followers only"]),
                    posting(a, "a1 public"),
                    lambda: _act(gql, LIKE_POST, liker, id=made["a1 public"]),
                    lambda: post(gql, b, "b replies to a1", replyToId=made["a1 public"]),
                    lambda: _act(gql, REPOST, c, id=made["a1 public"]),
                ]
                for n, step in enumerate(steps):
                    await step()
                    body = END if n == len(steps) - 1 else f"{SYNC} {n}"
                    await post(gql, a, body)
                    for server_name, name, ws, _ in sockets:
                        ids = {"feed": "feed"} if viewers[name] is None else {
                            "home": "homeTimeline",
                            "feed": "feed",
                        }  # fmt: skip
                        for op, payloads in (await _collect(ws, ids, body)).items():
                            received.setdefault((server_name, name, op), []).extend(payloads)
                reads_after = _live_reads(await _scrape(shared))
            finally:
                for _, _, _, context in sockets:
                    await context.__aexit__(None, None, None)

    for name, user in viewers.items():
        for op in ("feed",) if user is None else ("home", "feed"):
            mine, theirs = received[("shared", name, op)], received[("general", name, op)]
            # `extensions.cost` goes with the first event on both paths (its `remaining`
            # differs: each server charged its own subscription).
            assert "cost" in mine[0].get("extensions", {}), mine[0]
            assert "cost" in theirs[0].get("extensions", {}), theirs[0]
            assert [p["data"] for p in mine] == [p["data"] for p in theirs], (name, op)

    def seen(name: str, op: str) -> list[dict[str, Any]]:
        field = "homeTimeline" if op == "home" else "feed"
        return [p["data"][field]["post"] for p in received[("shared", name, op)]]

    def shown(name: str, op: str) -> list[str]:
        return [
            p["body"] if p["repostOf"] is None else "repost of " + p["repostOf"]["body"]
            for p in seen(name, op)
            if not p["body"].startswith(SYNC)
        ]

    # The differences the shared reads must keep between viewers.
    assert shown("fan", "home") == [
        "b1 public",
        "repost of b1 public",
        "a followers only",
        "b replies",
        "a1 public",
        "b replies to a1",
        "repost of a1 public",
        END,
    ]
    assert shown("muter", "home") == ["a followers only", "a1 public", END]
    assert shown("blocker", "home") == [
        "a followers only",
        "a1 public",
        "repost of a1 public",
        END,
    ]
    assert shown("anonymous", "feed") == [
        "b1 public",
        "repost of b1 public",
        "a1 public",
        "repost of a1 public",
        END,
    ]

    def repost_of(name: str, op: str, body: str) -> dict[str, Any]:
        [found] = [p for p in seen(name, op) if p["repostOf"] and p["repostOf"]["body"] == body]
        return found

    fan_repost = repost_of("fan", "home", "a1 public")
    blocker_repost = repost_of("blocker", "home", "a1 public")
    assert fan_repost["repostOf"]["replyCount"] == 1
    assert blocker_repost["repostOf"]["replyCount"] == 0  # the reply is by a blocked author
    liker_repost = repost_of("liker", "feed", "a1 public")
    assert liker_repost["repostOf"]["viewerHasLiked"] is True
    assert {p["repostOf"]["viewerHasLiked"] for p in seen("fan", "feed") if p["repostOf"]} == {
        False
    }
    assert {p["author"]["viewerFollows"] for p in seen("fan", "home")} == {True}
    assert {p["author"]["viewerFollows"] for p in seen("anonymous", "feed")} == {False}
    [reply] = [p for p in seen("fan", "home") if p["body"] == "b replies"]
    assert reply["replyTo"]["body"] == "a followers only"

    # Once per event and document in the shared server: 16 events (8 and 8 markers) and two
    # documents (home and feed), however many subscribers each reached. Each subscriber answered counts once
    # per event it let through (some then found hidden by the read: a repost of a muted
    # author's post), so at least the events delivered.
    reads, answered = reads_after[0] - reads_before[0], reads_after[1] - reads_before[1]
    delivered = sum(
        len(received[("shared", name, op)])
        for name, user in viewers.items()
        for op in (("feed",) if user is None else ("home", "feed"))
    )
    assert 0 < reads <= 16 * 2, reads
    assert answered >= delivered > 2 * 16 * 2, (answered, delivered)


STARVED = {
    # One connection, given up after 10 ms: an event read by many subscribers at once (each
    # on its own, LIVE_SHARED_DELIVERY off, a few reads each) finds the pool taken. (At 50 ms
    # a quiet machine once served all 40 in time, and the test proved nothing.)
    "DB_POOL_SIZE": "1",
    "DB_POOL_TIMEOUT": "0.01",
    "LIVE_SHARED_DELIVERY": "false",
}
SUBSCRIBERS = 40


async def _retrying(attempt: Callable[[], Awaitable[Any]], tries: int = 50) -> Any:
    """Retry what a starved server sheds (503 at the handshake, OVERLOADED on a mutation)."""
    for _ in range(tries - 1):
        try:
            return await attempt()
        except Exception:
            await asyncio.sleep(0.1)
    return await attempt()


@pytest.mark.skipif("postgres" not in BACKENDS, reason="needs PostgreSQL's pool")
async def test_a_process_out_of_connections_closes_live_streams_with_1013_not_errors(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Overload sheds: a subscriber whose event finds no database connection is closed with
    1013 (resume with `after`), never sent INTERNAL_SERVER_ERROR; and none of its events is
    lost for the client that resumes."""
    async with fresh_database("postgres", tmp_path) as database:
        server = ChirpServer(
            "starved", database, tmp_path, redis_url=database.redis_url, env=STARVED
        )
        async with running(request, server), server.graphql() as gql:
            author = await _retrying(lambda: sign_up(gql, handle("author")))
            sockets = []
            async with contextlib.AsyncExitStack() as stack:
                for _ in range(SUBSCRIBERS):
                    ws = await _retrying(
                        lambda: stack.enter_async_context(GraphQLWebSocket.connect(server.ws_url))
                    )
                    await ws.subscribe("feed", PUBLIC)
                    sockets.append(ws)
                await asyncio.sleep(1.0)  # every stream listening
                await _retrying(lambda: post(gql, author, "many at once"))
                outcomes = []
                for ws in sockets:
                    try:
                        message = await ws.next_message(within=EVENT_WAIT)
                        outcomes.append(("message", message))
                    except ConnectionClosed:
                        outcomes.append(("closed", (ws.close_code, ws.close_reason)))

    closed = [o for kind, o in outcomes if kind == "closed"]
    messages = [o for kind, o in outcomes if kind == "message"]
    assert closed, "no subscriber found the pool taken; the test proves nothing"
    assert {code for code, _ in closed} == {1013}
    assert all("errors" not in m["payload"] for m in messages), messages
    assert all(
        m["payload"]["data"]["publicFeed"]["post"]["body"] == "many at once" for m in messages
    )
