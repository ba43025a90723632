"""Subscriptions over the real `graphql-transport-ws` protocol, against real `chirp serve`
processes (uvicorn), real databases and real, sometimes killed, redis-servers.

A subscription starts listening a moment after the client sends `subscribe`, and the protocol
has no message saying when. `go_live` therefore posts marker posts until one arrives; from
then on the subscription misses nothing, so every later expectation is exact."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from websockets.exceptions import InvalidStatus

from app import db
from app.settings import Settings
from models.events.tables import Event
from tests.support.accounts import User, follow, post, sign_up
from tests.support.backends import (
    Database,
    available_backends,
    create_database,
    drop_database,
)
from tests.support.graphql import GraphQLClient
from tests.support.servers import ChirpServer, RedisServer, migrate, running
from tests.support.wsclient import GraphQLWebSocket

pytestmark = pytest.mark.processes

BACKENDS = available_backends()

HOME_TIMELINE = """
subscription Home($after: String) {
  homeTimeline(after: $after) { cursor post { id body author { handle } } }
}
"""
PUBLIC_FEED = """
subscription Feed($after: String) {
  publicFeed(after: $after) { cursor post { id body author { handle } } }
}
"""
POST_UPDATED = """
subscription Updates($id: ID!, $after: String) {
  postUpdated(id: $id, after: $after) { cursor deleted post { id likeCount } }
}
"""
# 30 aliases (the limit) of a 500-character body: about 15 kB per event, so that a client
# that stops reading fills the TCP buffers after some dozens of events.
BULKY_PUBLIC_FEED = (
    "subscription { publicFeed { cursor post { id body "
    + " ".join(f"copy{i}: body" for i in range(29))
    + " } } }"
)
LIKE_POST = """
mutation Like($id: ID!) { likePost(input: {postId: $id}) { __typename } }
"""
DELETE_POST = """
mutation Delete($id: ID!) { deletePost(input: {postId: $id}) { __typename } }
"""
LOG_OUT = "mutation { logOut { sessionsEnded } }"

ALLOWED_ORIGIN = "https://app.example.com"  # the servers' CORS_ORIGINS
EVENT_WAIT = 5.0  # seconds for one live event to arrive
# Besides pub/sub, each server's hub rereads the event log every 2 s, which would hide a broken
# pub/sub path. Events that must arrive within PUBSUB_WAIT, one after the other, can only have
# come through pub/sub: a log reread delivers the next one about 2 s after the previous one.
PUBSUB_WAIT = 1.5
OUTAGE_SECONDS = 1.5  # how long Redis stays down
OUTAGE_WAIT = 20.0  # seconds for events held back by a Redis outage to arrive
QUIET = 0.5  # seconds of silence that show no further (duplicate) event follows
MARKER_WAIT = 0.5
MARKER_ATTEMPTS = 20
CLOSE_SESSION_REVOKED = 4403
CLOSE_SLOW_CONSUMER = 4008

Poke = Callable[[str], Awaitable[object]]


def handle(name: str) -> str:
    return f"{name}_{uuid.uuid4().hex[:8]}"


async def author_and_follower(
    gql_author: GraphQLClient, gql_reader: GraphQLClient
) -> tuple[User, User]:
    """A new author and a new reader who follows them (each signed up through its client)."""
    author = await sign_up(gql_author, handle("author"))
    reader = await sign_up(gql_reader, handle("reader"))
    await follow(gql_reader, reader, author)
    return author, reader


def poster(gql: GraphQLClient, author: User, **extra: object) -> Poke:
    async def poke(body: str) -> object:
        return await post(gql, author, body, **extra)

    return poke


async def go_live(ws: GraphQLWebSocket, op_id: str, field: str, poke: Poke) -> str:
    """Post markers until one arrives on subscription `op_id`, then read up to the last one.
    Returns the last marker's cursor; nothing after it can be missed."""
    markers: list[str] = []
    event: dict[str, Any] | None = None
    while event is None:
        assert len(markers) < MARKER_ATTEMPTS, f"{op_id} delivered none of {markers}"
        markers.append(f"marker {len(markers)} for {op_id}")
        await poke(markers[-1])
        with contextlib.suppress(TimeoutError):
            event = (await ws.next_data(op_id, within=MARKER_WAIT))[field]
    while event["post"]["body"] != markers[-1]:
        event = (await ws.next_data(op_id, within=EVENT_WAIT))[field]
    cursor: str = event["cursor"]
    return cursor


async def receive(
    ws: GraphQLWebSocket, op_id: str, field: str, count: int, *, within: float = EVENT_WAIT
) -> list[dict[str, Any]]:
    """The next `count` events of subscription `op_id`, each within `within` seconds."""
    return [(await ws.next_data(op_id, within=within))[field] for _ in range(count)]


def bodies(events: list[dict[str, Any]]) -> list[str]:
    return [event["post"]["body"] for event in events]


async def assert_quiet(ws: GraphQLWebSocket) -> None:
    with pytest.raises(TimeoutError):
        message = await ws.next_message(within=QUIET)
        pytest.fail(f"expected no further message, got {message}")


async def new_database(backend: str, directory: Path) -> Database:
    database = await create_database(backend, directory)
    await migrate(database)
    return database


@contextlib.asynccontextmanager
async def fresh_database(backend: str, directory: Path) -> AsyncIterator[Database]:
    database = await new_database(backend, directory)
    try:
        yield database
    finally:
        await drop_database(database)


@pytest.fixture(scope="module")
async def embedded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ChirpServer]:
    """The embedded default: SQLite, in-process pub/sub and jobs, no Redis."""
    directory = tmp_path_factory.mktemp("embedded")
    database = await new_database("sqlite", directory)
    server = ChirpServer("embedded", database, directory, redis_url=None)
    async with running(request, server):
        yield server


# -- 1. the embedded default


async def test_embedded_server_delivers_timelines_and_post_updates(embedded: ChirpServer) -> None:
    async with embedded.graphql() as gql:
        author = await sign_up(gql, handle("author"))
        reader = await sign_up(gql, handle("reader"))
        stranger = await sign_up(gql, handle("stranger"))
        await follow(gql, reader, author)
        async with (
            GraphQLWebSocket.connect(embedded.ws_url, token=reader.token) as home,
            GraphQLWebSocket.connect(embedded.ws_url) as anonymous,
        ):
            await home.subscribe("home", HOME_TIMELINE)
            await go_live(home, "home", "homeTimeline", poster(gql, author))
            await anonymous.subscribe("feed", PUBLIC_FEED)
            # The reader does not follow the stranger, so these markers stay out of `home`.
            await go_live(anonymous, "feed", "publicFeed", poster(gql, stranger))

            post_id = await post(gql, author, "Hello, live world")
            [in_home] = await receive(home, "home", "homeTimeline", 1)
            [in_feed] = await receive(anonymous, "feed", "publicFeed", 1)

            await anonymous.subscribe(
                "updates", POST_UPDATED, {"id": post_id, "after": in_feed["cursor"]}
            )
            await gql.execute(LIKE_POST, {"id": post_id}, token=reader.token)
            [liked] = await receive(anonymous, "updates", "postUpdated", 1)
            await gql.execute(DELETE_POST, {"id": post_id}, token=author.token)
            [deleted] = await receive(anonymous, "updates", "postUpdated", 1)
            ended = await anonymous.next_message(within=EVENT_WAIT)

            await assert_quiet(home)
            await assert_quiet(anonymous)

    expected_post = {
        "id": post_id,
        "body": "Hello, live world",
        "author": {"handle": author.handle},
    }
    assert in_home["post"] == expected_post
    assert in_feed["post"] == expected_post
    assert liked["deleted"] is False
    assert liked["post"] == {"id": post_id, "likeCount": 1}
    assert deleted["deleted"] is True
    assert deleted["post"] is None
    assert ended == {"id": "updates", "type": "complete"}  # nothing follows a deletion
    assert len({in_feed["cursor"], liked["cursor"], deleted["cursor"]}) == 3


async def test_a_repost_of_a_muted_author_stays_out_of_the_live_home_timeline(
    embedded: ChirpServer,
) -> None:
    async with embedded.graphql() as gql:
        reader, sharer, muted = [
            await sign_up(gql, handle(name)) for name in ("reader", "sharer", "muted")
        ]
        await follow(gql, reader, sharer)
        mute = "mutation ($id: ID!) { muteAccount(input: {accountId: $id}) { __typename } }"
        await gql.execute(mute, {"id": muted.id}, token=reader.token)
        original = await post(gql, muted, "said by someone muted")
        repost = "mutation ($id: ID!) { repostPost(input: {postId: $id}) { __typename } }"
        async with GraphQLWebSocket.connect(embedded.ws_url, token=reader.token) as home:
            await home.subscribe("home", HOME_TIMELINE)
            await go_live(home, "home", "homeTimeline", poster(gql, sharer))
            await gql.execute(repost, {"id": original}, token=sharer.token)
            await post(gql, sharer, "said by the sharer")
            [seen] = await receive(home, "home", "homeTimeline", 1)

    assert seen["post"]["body"] == "said by the sharer"


# -- 2. several server processes


@pytest.mark.parametrize("backend", BACKENDS)
async def test_posts_through_one_server_reach_subscribers_of_another(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    """PostgreSQL runs with the machine's Redis (6379), as in production; SQLite (a file both
    processes share) with a private redis-server, so the test runs on every machine."""
    async with fresh_database(backend, tmp_path) as database:
        redis = RedisServer(tmp_path) if database.redis_url is None else None
        redis_url = database.redis_url or (redis.url if redis else None)
        prefix = f"chirp-it-{uuid.uuid4().hex[:8]}"
        a = ChirpServer("server-a", database, tmp_path, redis_url=redis_url, redis_prefix=prefix)
        b = ChirpServer("server-b", database, tmp_path, redis_url=redis_url, redis_prefix=prefix)
        processes = [p for p in (redis, a, b) if p is not None]
        async with running(request, *processes), a.graphql() as gql_a, b.graphql() as gql_b:
            author, reader = await author_and_follower(gql_b, gql_a)
            async with GraphQLWebSocket.connect(a.ws_url, token=reader.token) as on_a:
                await on_a.subscribe("home", HOME_TIMELINE)
                await go_live(on_a, "home", "homeTimeline", poster(gql_b, author))

                received_on_a = []
                for n in range(3):
                    await post(gql_b, author, f"via B {n}")
                    received_on_a += await receive(
                        on_a, "home", "homeTimeline", 1, within=PUBSUB_WAIT
                    )
                await assert_quiet(on_a)

            # Resume on the other server from the last cursor server A gave.
            await post(gql_a, author, "via A while the reader is away")
            async with GraphQLWebSocket.connect(b.ws_url, token=reader.token) as on_b:
                await on_b.subscribe("home", HOME_TIMELINE, {"after": received_on_a[-1]["cursor"]})
                [resumed_on_b] = await receive(on_b, "home", "homeTimeline", 1)
                await assert_quiet(on_b)

    assert bodies(received_on_a) == ["via B 0", "via B 1", "via B 2"]
    assert {e["post"]["author"]["handle"] for e in received_on_a} == {author.handle}
    assert resumed_on_b["post"]["body"] == "via A while the reader is away"


# -- 3. resuming after a disconnect


async def test_resubscribing_after_a_cursor_replays_exactly_what_was_missed(
    embedded: ChirpServer,
) -> None:
    async with embedded.graphql() as gql:
        author, reader = await author_and_follower(gql, gql)
        async with GraphQLWebSocket.connect(embedded.ws_url, token=reader.token) as first:
            await first.subscribe("home", HOME_TIMELINE)
            last_seen = await go_live(first, "home", "homeTimeline", poster(gql, author))

        missed = [await post(gql, author, f"missed {n}") for n in range(2)]
        async with GraphQLWebSocket.connect(embedded.ws_url, token=reader.token) as second:
            await second.subscribe("home", HOME_TIMELINE, {"after": last_seen})
            replayed = await receive(second, "home", "homeTimeline", 2)
            live_id = await post(gql, author, "live again")
            [live] = await receive(second, "home", "homeTimeline", 1)
            await assert_quiet(second)

    assert bodies(replayed) == ["missed 0", "missed 1"]
    assert [e["post"]["id"] for e in replayed] == missed
    assert live["post"]["id"] == live_id
    cursors = [last_seen, *(e["cursor"] for e in replayed), live["cursor"]]
    assert len(set(cursors)) == len(cursors)


# -- 4. a Redis outage


@pytest.mark.parametrize("backend", BACKENDS)
async def test_posts_created_while_redis_is_down_arrive_in_order_once_it_is_back(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    async with fresh_database(backend, tmp_path) as database:
        redis = RedisServer(tmp_path)
        server = ChirpServer("server", database, tmp_path, redis_url=redis.url)
        async with running(request, redis, server), server.graphql() as gql:
            author, reader = await author_and_follower(gql, gql)
            async with GraphQLWebSocket.connect(server.ws_url, token=reader.token) as ws:
                await ws.subscribe("home", HOME_TIMELINE)
                await go_live(ws, "home", "homeTimeline", poster(gql, author))

                await redis.kill()
                await wait_until_redis_is_missed(server)
                during = [await post(gql, author, f"during the outage {n}") for n in range(3)]
                # Long enough for several failed reconnects (with backoff) and publishes.
                await asyncio.sleep(OUTAGE_SECONDS)
                held_back = await unpublished_event_types(database)
                await redis.start()
                recovered = await receive(ws, "home", "homeTimeline", 3, within=OUTAGE_WAIT)
                await server.wait_ready(within=OUTAGE_WAIT)
                after_ids, after = [], []
                for n in range(2):
                    after_ids.append(await post(gql, author, f"after the outage {n}"))
                    after += await receive(ws, "home", "homeTimeline", 1, within=PUBSUB_WAIT)
                await assert_quiet(ws)
            # Fan-out jobs queued in Redis also recover: the worker re-declares its
            # consumer group on the restarted, empty Redis and runs them.
            home = await home_bodies_when(gql, reader, count=5, within=OUTAGE_WAIT)

    assert held_back == ["post.created"] * 3  # the outbox kept them while Redis was away
    assert home[:5] == [f"after the outage {n}" for n in (1, 0)] + [
        f"during the outage {n}" for n in (2, 1, 0)
    ]
    assert [e["post"]["id"] for e in recovered] == during
    assert bodies(recovered) == [f"during the outage {n}" for n in range(3)]
    assert [e["post"]["id"] for e in after] == after_ids


HOME_BODIES = "query { homeTimeline(first: 20) { edges { node { body } } } }"


async def home_bodies_when(
    gql: GraphQLClient, user: User, *, count: int, within: float
) -> list[str]:
    """The user's home timeline once it holds at least `count` posts besides the markers."""
    async with asyncio.timeout(within):
        while True:
            data = await gql.execute(HOME_BODIES, token=user.token)
            bodies = [e["node"]["body"] for e in data["homeTimeline"]["edges"]]
            wanted = [b for b in bodies if "outage" in b]
            if len(wanted) >= count:
                return wanted
            await asyncio.sleep(0.1)


async def unpublished_event_types(database: Database) -> list[str]:
    """The outbox: events committed but not yet published, oldest first."""
    engine = db.create_engine(Settings(env="test", database_url=database.url))
    try:
        async with engine.connect() as conn:
            query = select(Event.type).where(Event.published_at.is_(None)).order_by(Event.id)
            return list((await conn.scalars(query)).all())
    finally:
        await engine.dispose()


async def wait_until_redis_is_missed(server: ChirpServer) -> None:
    """Until /readyz reports Redis down: the server has noticed the outage."""
    async with server.graphql() as gql, asyncio.timeout(EVENT_WAIT * 2):
        while True:
            response = await gql.http.get("/readyz")
            if response.status_code == 503 and response.json()["checks"]["redis"] is False:
                return
            await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("after", "kind", "why"),
    [
        # e1:9999999, e.g. after a reset: well formed, so the subscription starts, then ends.
        ("ZTE6OTk5OTk5OQ==", "next", "ahead of the event log"),
        # Malformed or of another kind: refused before it starts (schema/core/admission.py).
        ("YzE6MQ==", "error", "not one this API issued"),  # c1:1, a list cursor
        ("garbage", "error", "not one this API issued"),
    ],
)
async def test_resuming_from_a_cursor_this_log_never_issued_is_bad_user_input(
    embedded: ChirpServer, after: str, kind: str, why: str
) -> None:
    async with GraphQLWebSocket.connect(embedded.ws_url) as ws:
        await ws.subscribe("feed", PUBLIC_FEED, {"after": after})
        message = await ws.next_message(within=EVENT_WAIT)

    errors = message["payload"]["errors"] if kind == "next" else message["payload"]
    assert message["type"] == kind
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]
    assert why in errors[0]["message"]


async def test_a_subscription_over_the_cost_limit_is_refused_when_it_starts(
    embedded: ChirpServer,
) -> None:
    # Priced 9,913, under the 10,000 a query may cost, it would resolve up to 9,700 posts for
    # every public post for as long as it stays open, charged once: a subscription's own
    # maximum (GRAPHQL_MAX_SUBSCRIPTION_COST, 250) refuses it.
    # 10 + 1 post + 1 author + 1 + 100 * (1 + 1 + 97 * 1) = 9,913
    costly = """subscription { publicFeed { post { author { followers(first:100) {
      edges { node { posts(first:97) { edges { node { id body } } } } } } } } } }"""

    async with GraphQLWebSocket.connect(embedded.ws_url) as ws:
        await ws.subscribe("costly", costly)
        message = await ws.next_message(within=EVENT_WAIT)

    assert message["type"] == "error" and message["id"] == "costly"
    [error] = message["payload"]
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 9913, "maxCost": 250}


# -- 5. authentication


async def test_a_bad_token_is_refused_at_connection_init(embedded: ChirpServer) -> None:
    async with GraphQLWebSocket.connect(embedded.ws_url, init=False) as ws:
        await ws.send_init({"authorization": "not-a-session-token"})
        before_close = await ws.until_closed()

    assert before_close == []
    assert ws.close_code == 4403


async def test_home_timeline_needs_a_signed_in_connection(embedded: ChirpServer) -> None:
    async with GraphQLWebSocket.connect(embedded.ws_url) as ws:
        await ws.subscribe("home", HOME_TIMELINE)
        error = await ws.next_message(within=EVENT_WAIT)
        done = await ws.next_message(within=EVENT_WAIT)

    assert ws.ack_payload == {"viewer": None}
    assert error["type"] == "next" and error["id"] == "home"
    assert error["payload"]["data"] is None
    assert [e["extensions"]["code"] for e in error["payload"]["errors"]] == ["UNAUTHENTICATED"]
    assert done == {"id": "home", "type": "complete"}


async def test_an_idle_socket_of_a_revoked_session_runs_nothing_as_its_viewer(
    embedded: ChirpServer,
) -> None:
    async with embedded.graphql() as gql:
        viewer = await sign_up(gql, handle("idle"))
        async with GraphQLWebSocket.connect(embedded.ws_url, token=viewer.token) as ws:
            await gql.execute("mutation { logOut { sessionsEnded } }", token=viewer.token)
            await ws.subscribe("who", "query { viewer { handle email } }")
            before_close = await ws.until_closed()

    leaked = [m for m in before_close if (m.get("payload") or {}).get("data", {}).get("viewer")]
    assert leaked == []
    assert ws.close_code == 4403


async def test_logging_out_closes_the_sessions_open_subscriptions(embedded: ChirpServer) -> None:
    async with embedded.graphql() as gql:
        viewer = await sign_up(gql, handle("viewer"))
        log_mark = embedded.log_size()
        async with GraphQLWebSocket.connect(embedded.ws_url, token=viewer.token) as ws:
            await ws.subscribe("home", HOME_TIMELINE)
            # The viewer's own posts are in their home timeline.
            await go_live(ws, "home", "homeTimeline", poster(gql, viewer))

            await gql.execute(LOG_OUT, token=viewer.token)
            before_close = await ws.until_closed(within=PUBSUB_WAIT)

        async with GraphQLWebSocket.connect(embedded.ws_url, init=False) as again:
            await again.send_init({"authorization": viewer.token})
            await again.until_closed()
        server_log = embedded.log_since(log_mark)

    assert before_close == []
    assert (ws.close_code, ws.close_reason) == (CLOSE_SESSION_REVOKED, "Session revoked")
    assert again.close_code == 4403
    assert "Traceback" not in server_log  # closing did not trip the server over its own close


# -- 6. slow consumers

# 300 events of about 15 kB are 4.5 MB: more than a Linux socket's send buffer can grow to
# (tcp_wmem's default maximum, 4 MB) plus uvicorn's 64 kB write buffer and what the client
# takes in, so the server's send must block, whatever else happens.
SLOW_POSTS = 300
SLOW_CONCURRENCY = 10


async def test_a_subscriber_that_stops_reading_is_cut_off_with_4008(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The server holds at most WS_QUEUE_SIZE (4) events per subscription. The client stops
    reading (and takes little in: one queued message, a 4 kB receive buffer), so once TCP
    pushes back, the server's send blocks and the subscription's queue overflows. Posting
    concurrently usually overflows it sooner, with bursts of events larger than the queue.
    Either way the server closes with 4008 instead of buffering without bound."""
    database = await new_database("sqlite", tmp_path)
    server = ChirpServer(
        "slow-consumer", database, tmp_path, redis_url=None, env={"WS_QUEUE_SIZE": "4"}
    )
    async with running(request, server), server.graphql() as gql:
        author = await sign_up(gql, handle("author"))
        async with GraphQLWebSocket.connect(server.ws_url, max_queue=1, receive_buffer=4096) as ws:
            await ws.subscribe("feed", BULKY_PUBLIC_FEED)
            await go_live(ws, "feed", "publicFeed", poster(gql, author))

            slots = asyncio.Semaphore(SLOW_CONCURRENCY)

            async def post_one(n: int) -> None:
                async with slots:
                    await post(gql, author, f"{n:03d} " + "x" * 496)

            async with asyncio.timeout(60):
                await asyncio.gather(*(post_one(n) for n in range(SLOW_POSTS)))
            before_close = await ws.until_closed(within=30)

        # Cutting one subscriber off does not hurt the server. (A new subscriber now might
        # itself get the rest of the burst faster than it can take it, so none is tried.)
        readiness = await gql.http.get("/readyz")
        server_log = server.log_since(0)

    assert (ws.close_code, ws.close_reason) == (
        CLOSE_SLOW_CONSUMER,
        "Slow consumer: event queue overflowed",
    )
    assert 0 < len(before_close) < SLOW_POSTS
    assert {(m["type"], m["id"]) for m in before_close} == {("next", "feed")}
    assert readiness.status_code == 200
    assert "Traceback" not in server_log


async def test_a_subscriber_whose_sends_block_is_closed_with_4008_in_bounded_time(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The client stops reading while events come one at a time, far fewer than its queue
    holds (256), so the queue never overflows: the server's send blocks once TCP and
    uvicorn's buffers are full. Within WS_SEND_TIMEOUT (1 s here) the server closes with
    4008 anyway, writing the close frame behind what is queued; the client, reading on,
    gets the events in order and then the close. Without the send timeout the socket would
    hang until the keepalive gives up (1011, about 40 s later)."""
    database = await new_database("sqlite", tmp_path)
    server = ChirpServer(
        "blocked-sends", database, tmp_path, redis_url=None, env={"WS_SEND_TIMEOUT": "1"}
    )
    async with running(request, server), server.graphql() as gql:
        author = await sign_up(gql, handle("author"))
        async with GraphQLWebSocket.connect(server.ws_url, max_queue=1, receive_buffer=4096) as ws:
            await ws.subscribe("feed", BULKY_PUBLIC_FEED)
            await go_live(ws, "feed", "publicFeed", poster(gql, author))

            async def post_slowly() -> None:
                for n in range(BLOCKING_POSTS):
                    await post(gql, author, f"{n:03d} " + "x" * 496)

            posting = asyncio.create_task(post_slowly())
            try:
                async with asyncio.timeout(90):
                    while await _slow_consumers(gql) == 0:
                        assert not posting.done(), "every post was sent: no send ever blocked"
                        await asyncio.sleep(0.1)
                # Read on at once (the server aborts the connection 5 s after its close).
                before_close = await ws.until_closed(within=5)
            finally:
                posting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await posting
        readiness = await gql.http.get("/readyz")

    assert ws.close_code == CLOSE_SLOW_CONSUMER
    assert ws.close_reason == "Slow consumer: the client stopped reading; resubscribe with `after`"
    bodies_seen = [m["payload"]["data"]["publicFeed"]["post"]["body"][:3] for m in before_close]
    assert bodies_seen == [f"{n:03d}" for n in range(len(bodies_seen))]  # in order, none lost
    assert len(bodies_seen) < BLOCKING_POSTS
    assert readiness.status_code == 200


# As many events of about 15 kB as 6 MB: more than the socket buffers can take.
BLOCKING_POSTS = 400


async def _slow_consumers(gql: GraphQLClient) -> float:
    text = (await gql.http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("chirp_websocket_slow_consumers_total "):
            return float(line.split()[1])
    return 0.0


# -- 7. origins


async def test_websocket_handshakes_from_other_origins_are_refused(embedded: ChirpServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with GraphQLWebSocket.connect(embedded.ws_url, origin="https://evil.example.com"):
            pass
    async with GraphQLWebSocket.connect(embedded.ws_url, origin=ALLOWED_ORIGIN) as allowed:
        ack_payload = allowed.ack_payload

    assert refused.value.response.status_code == 403
    assert ack_payload == {"viewer": None}
