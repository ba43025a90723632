"""The dataloader cache layer: a home-timeline page costs the same number of SQL statements
whatever its size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, func, select

from app.runtime import Services
from models.posts import actions as posts
from models.social import actions as social
from models.timeline.tables import FeedEntry
from resolvers.paging import parse_global_id
from tests.conftest import eventually
from tests.support.accounts import User, sign_up
from tests.support.graphql import GraphQLClient

HOME_PAGE = """
query HomePage($first: Int!) {
  homeTimeline(first: $first) {
    edges {
      cursor
      node {
        body likeCount replyCount repostCount viewerHasLiked createdAt
        author { handle displayName viewerFollows }
        repostOf { body author { handle } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


_recording: ContextVar[list[str] | None] = ContextVar("recording", default=None)


@contextmanager
def counting_statements(services: Services) -> Iterator[list[str]]:
    """Statements issued by this task and the tasks it starts (dataloader batches), not by
    background work (the dispatcher, fan-out jobs) that shares the engine."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        target = _recording.get()
        if target is not None and not statement.startswith(("BEGIN", "ROLLBACK", "COMMIT")):
            target.append(statement)

    event.listen(services.engine.sync_engine, "before_cursor_execute", record)
    token = _recording.set(statements)
    try:
        yield statements
    finally:
        _recording.reset(token)
        event.remove(services.engine.sync_engine, "before_cursor_execute", record)


async def _arrange(gql: GraphQLClient, services: Services) -> User:
    """A viewer following three authors whose 120 posts are every fourth one a repost of an
    outsider's post, and some of them liked: every page has reposts, likes and authors."""
    users = [await sign_up(gql, h) for h in ("viewer", "outsider", "author0", "author1", "author2")]
    ids = {u.handle: parse_global_id(u.id, expect="Account", field="id")[1] for u in users}
    viewer_id, authors = ids["viewer"], [ids["author0"], ids["author1"], ids["author2"]]
    async with services.runtime.sessionmaker() as session, session.begin():
        for author_id in authors:
            await social.follow_account(session, follower_id=viewer_id, followee_id=author_id)
        for n in range(120):
            author_id = authors[n % 3]
            if n % 4 == 0:
                original = await posts.create_post(session, author_id=ids["outsider"], body=f"o{n}")
                await posts.repost_post(session, author_id=author_id, post_id=original.id)
            else:
                own = await posts.create_post(session, author_id=author_id, body=f"#{n}")
                if n % 5 == 0:
                    await posts.like_post(session, account_id=viewer_id, post_id=own.id)
    services.runtime.dispatcher.kick()

    async def fanned_out() -> bool:
        async with services.runtime.sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).where(FeedEntry.owner_id == viewer_id)
            )
        return count == 120

    await eventually(fanned_out, timeout=20)
    return users[0]


async def test_home_page_statements_do_not_grow_with_page_size(
    gql: GraphQLClient, services: Services
) -> None:
    viewer = await _arrange(gql, services)
    # The viewer's plan, which names its query budget, is read once a minute, not per page.
    await gql.execute(HOME_PAGE, {"first": 1}, token=viewer.token)

    with counting_statements(services) as small:
        page10 = await gql.execute(HOME_PAGE, {"first": 10}, token=viewer.token)
    with counting_statements(services) as large:
        page100 = await gql.execute(HOME_PAGE, {"first": 100}, token=viewer.token)

    assert len(page10["homeTimeline"]["edges"]) == 10
    assert len(page100["homeTimeline"]["edges"]) == 100
    assert any(e["node"]["repostOf"] for e in page100["homeTimeline"]["edges"])
    assert any(e["node"]["viewerHasLiked"] for e in page100["homeTimeline"]["edges"])
    assert len(small) == len(large), "\n".join(
        " ".join(s.split())[:120] for s in [*small, "--", *large]
    )
    assert len(large) <= 8, large
