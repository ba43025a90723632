"""A credentials change reaching a subscriber while PostgreSQL is down: the stream must re-read
the session's authority before it delivers anything more, cannot, and closes with 1011 once
its retries run out; the post published after the change is never delivered.

The server runs on a private PostgreSQL cluster (initdb on a free port) that the test stops.
Both events are published on the server's Redis channel as the dispatcher publishes them,
the change first: an event that went out just before the outage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from app import db
from app.settings import Settings
from models.events import actions as events
from models.events.tables import Event
from models.posts.tables import PUBLIC
from resolvers.paging import parse_global_id
from subscriptions import live
from tests.integration.test_live_updates import (
    HOME_TIMELINE,
    author_and_follower,
    go_live,
    poster,
)
from tests.support.accounts import post
from tests.support.backends import REDIS_URL, Database
from tests.support.servers import ChirpServer, PostgresServer, private_database, running
from tests.support.wsclient import GraphQLWebSocket

pytestmark = pytest.mark.processes

# The stream's retries (live.RECHECK_DELAYS, about 4 s) and the failed attempts themselves.
CLOSE_WAIT = 30.0


async def last_seq(database: Database) -> int:
    engine = db.create_engine(Settings(env="test", database_url=database.url))
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.max(Event.seq))) or 0)
    finally:
        await engine.dispose()


def account_key(global_id: str) -> int:
    return parse_global_id(global_id, expect="Account", field="id")[1]


async def test_a_credentials_change_during_a_database_outage_closes_with_1011_unchecked_never(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresServer
) -> None:
    database = await private_database(postgres, "chirp", redis_url=REDIS_URL)
    chirp = ChirpServer(
        "recheck", database, tmp_path, redis_url=REDIS_URL, env={"LOG_FORMAT": "json"}
    )
    publisher = aioredis.from_url(REDIS_URL)
    async with running(request, chirp), chirp.graphql() as gql:
        author, reader = await author_and_follower(gql, gql)
        held_post = await post(gql, author, "published after the change")
        async with GraphQLWebSocket.connect(chirp.ws_url, token=reader.token) as ws:
            await ws.subscribe("home", HOME_TIMELINE)
            await go_live(ws, "home", "homeTimeline", poster(gql, author))
            seq = await last_seq(database)
            await postgres.stop()
            change = {"account_id": account_key(reader.id), "kind": "role"}
            held = {
                "post_id": parse_global_id(held_post, expect="Post", field="id")[1],
                "author_id": account_key(author.id),
                "visibility": PUBLIC,
                "reply_to_id": None,
            }
            channel = f"{chirp.redis_prefix}:events"
            for n, (type, payload) in enumerate(
                [(events.CREDENTIALS_CHANGED, change), (events.POST_CREATED, held)], start=1
            ):
                message = {"seq": seq + n, "type": type, "payload": payload}
                await publisher.publish(channel, json.dumps(message))
            messages = await ws.until_closed(within=CLOSE_WAIT)
            closed = (ws.close_code, ws.close_reason)
            await postgres.start()
    await publisher.aclose()

    assert messages == []  # the post after the change was held, not delivered
    assert closed == (1011, live.RECHECK_FAILED)
