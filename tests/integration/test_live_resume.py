"""Resuming `homeTimeline` through a real `chirp serve` on each back end, after more of the
platform's events than the old count-based limit allowed (written straight into the log,
as a busy platform would have left it), and refusing a cursor older than the window."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from app import db
from app.settings import Settings
from models.base import utcnow
from models.events import actions as events
from models.events.tables import Event
from models.posts.tables import PUBLIC
from resolvers.paging import EVENT_CURSOR, decode_cursor
from tests.conftest import eventually
from tests.integration.test_live_updates import (
    EVENT_WAIT,
    HOME_TIMELINE,
    assert_quiet,
    author_and_follower,
    bodies,
    fresh_database,
    go_live,
    poster,
    receive,
    unpublished_event_types,
)
from tests.support.accounts import post
from tests.support.backends import Database, available_backends
from tests.support.servers import ChirpServer, running
from tests.support.wsclient import GraphQLWebSocket

pytestmark = pytest.mark.processes

# More than 5 minutes of a platform's events at 50 a second.
UNRELATED = 15_600
STRANGER = 10**9


def unrelated_events(start: int) -> list[dict[str, Any]]:
    """Numbered, published and processed events of every kind, none about the reader or
    whom they follow, spread over the last four minutes."""
    now = utcnow()
    rows = []
    for n in range(UNRELATED):
        kind = n % 3
        if kind == 0:
            type = events.POST_CREATED
            payload: dict[str, Any] = {
                "post_id": STRANGER + n,
                "author_id": STRANGER,
                "visibility": PUBLIC,
                "reply_to_id": None,
            }
        elif kind == 1:
            type, payload = events.POST_UPDATED, {"post_id": STRANGER + n}
        else:
            type = events.ACCOUNT_FOLLOWED
            payload = {"follower_id": STRANGER, "followee_id": STRANGER + 1}
        at = now - timedelta(minutes=4) * (1 - n / UNRELATED)
        rows.append(
            {
                "type": type,
                "payload": payload,
                "seq": start + n + 1,
                "created_at": at,
                "published_at": at,
                "processed_at": at,
            }
        )
    return rows


async def write_to_log(database: Database, *, age_cursor: int | None = None) -> None:
    """Append the unrelated events to the log; with `age_cursor`, instead make that event
    older than the resume window."""
    engine = db.create_engine(Settings(env="test", database_url=database.url))
    try:
        async with engine.begin() as conn:
            if age_cursor is not None:
                old = utcnow() - timedelta(minutes=11)
                await conn.execute(
                    update(Event).where(Event.seq == age_cursor).values(created_at=old)
                )
                return
            start = int(await conn.scalar(select(func.max(Event.seq))) or 0)
            await conn.execute(insert(Event), unrelated_events(start))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", available_backends())
async def test_home_timeline_resumes_after_thousands_of_platform_events_within_the_window(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    async with fresh_database(backend, tmp_path) as database:
        server = ChirpServer("resume", database, tmp_path, redis_url=database.redis_url)
        async with running(request, server), server.graphql() as gql:
            author, reader = await author_and_follower(gql, gql)
            async with GraphQLWebSocket.connect(server.ws_url, token=reader.token) as first:
                await first.subscribe("home", HOME_TIMELINE)
                cursor = await go_live(first, "home", "homeTimeline", poster(gql, author))

            async def all_published() -> bool:
                return await unpublished_event_types(database) == []

            # Every event numbered before the unrelated ones take the next seqs. (The last
            # marker can reach the client just before its `published_at` is written.)
            await eventually(all_published)
            await write_to_log(database)
            missed = [await post(gql, author, f"missed {n}") for n in range(2)]
            async with GraphQLWebSocket.connect(server.ws_url, token=reader.token) as second:
                await second.subscribe("home", HOME_TIMELINE, {"after": cursor})
                replayed = await receive(second, "home", "homeTimeline", 2)
                live_id = await post(gql, author, "live")
                [live] = await receive(second, "home", "homeTimeline", 1)
                await assert_quiet(second)

            await write_to_log(database, age_cursor=decode_cursor(cursor, kind=EVENT_CURSOR))
            async with GraphQLWebSocket.connect(server.ws_url, token=reader.token) as third:
                await third.subscribe("home", HOME_TIMELINE, {"after": cursor})
                refused = await third.next_message(within=EVENT_WAIT)

    assert bodies(replayed) == ["missed 0", "missed 1"]
    assert [e["post"]["id"] for e in replayed] == missed
    assert live["post"]["id"] == live_id
    errors = refused["payload"]["errors"]
    assert refused["type"] == "next"
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]
    assert "too old to resume" in errors[0]["message"]
