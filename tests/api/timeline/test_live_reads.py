"""The shared reads behind live delivery (`models/timeline/shared.LiveReads`): one batch per
event and document, whatever the number of subscribers that ask, with each viewer's own
view (a blocked viewer gets nothing; viewers whose views are alike share one answer)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from graphql import parse

from app.runtime import Services
from models.timeline.reader import Reader
from models.timeline.shared import LiveReadFailed, LiveReads
from resolvers.paging import parse_global_id
from schema.compiled import LivePlan, compile_subscription
from tests.support.accounts import User, follow, post, sign_up
from tests.support.graphql import GraphQLClient

DOCUMENT = """
subscription { publicFeed { cursor post { body viewerHasLiked author { handle viewerFollows } } } }
"""
BLOCK = "mutation ($id: ID!) { blockAccount(input: {accountId: $id}) { __typename } }"
LIKE = "mutation ($id: ID!) { likePost(input: {postId: $id}) { __typename } }"


def _key(global_id: str, kind: str) -> int:
    return parse_global_id(global_id, expect=kind, field="id")[1]


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The statements the reader runs (a spy on the real reader)."""
    seen: list[Any] = []
    original = Reader.fetch

    async def counted(self: Reader, read: Any, values: dict[str, Any]) -> Any:
        seen.append(read)
        return await original(self, read, values)

    monkeypatch.setattr(Reader, "fetch", counted)
    return seen


async def _ask(
    reads: LiveReads, plan: LivePlan, post_id: int, seq: int, viewers: list[int | None]
) -> list[str | None]:
    """Every viewer asks at once, as the subscribers one hub pass wakes."""
    return list(
        await asyncio.gather(
            *(
                reads.answer(
                    plan,
                    plan.read,
                    plan.shape,
                    seq=seq,
                    post_id=post_id,
                    viewer_id=viewer,
                )
                for viewer in viewers
            )
        )
    )


async def test_one_batch_answers_every_viewer_with_its_own_view(
    gql: GraphQLClient, services: Services, statements: list[Any]
) -> None:
    author = await sign_up(gql, "author")
    users: list[User] = [await sign_up(gql, f"viewer{n}") for n in range(5)]
    fan, liker, blocker = users[0], users[1], users[2]
    await follow(gql, fan, author)
    await gql.execute(BLOCK, {"id": author.id}, token=blocker.token)
    post_id = await post(gql, author, "hello")
    await gql.execute(LIKE, {"id": post_id}, token=liker.token)
    plan = compile_subscription(parse(DOCUMENT), None)
    assert plan is not None
    reads = services.runtime.live
    assert reads is not None
    viewers: list[int | None] = [_key(u.id, "Account") for u in users] + [None]

    answers = await _ask(reads, plan, _key(post_id, "Post"), 10_001, viewers)

    by_viewer = dict(zip(viewers, answers, strict=True))
    shown = {
        viewer: None if text is None else json.loads(text)["data"]["publicFeed"]["post"]
        for viewer, text in by_viewer.items()
    }
    fan_id, liker_id, blocker_id = (_key(u.id, "Account") for u in (fan, liker, blocker))
    assert shown[blocker_id] is None  # across a block: nothing
    assert shown[fan_id] == {
        "body": "hello",
        "viewerHasLiked": False,
        "author": {"handle": "author", "viewerFollows": True},
    }
    liked = shown[liker_id]
    assert liked is not None and liked["viewerHasLiked"] is True
    assert shown[None] == {
        "body": "hello",
        "viewerHasLiked": False,
        "author": {"handle": "author", "viewerFollows": False},
    }
    # The two viewers with no relation to the post and the anonymous one see alike, and share
    # one shaped answer.
    plain = [by_viewer[_key(u.id, "Account")] for u in users[3:]]
    assert plain[0] == plain[1] == by_viewer[None]
    assert plain[0] is plain[1]
    # One batch: the post read once, the viewers' facts once (PostgreSQL) or one small
    # statement per signed-in viewer (SQLite), plus one for the anonymous view.
    live = plan.read
    kinds = {id(live.base): "base", id(live.many): "many", id(live.one): "one"}
    kinds[id(live.anonymous)] = "anonymous"
    ran = sorted(kinds[id(read)] for read in statements)
    if reads.reader.reads_many:
        assert ran == ["anonymous", "base", "many"]
    else:
        assert ran == ["anonymous", "base"] + ["one"] * (len(viewers) - 1)


async def test_a_failed_read_fails_every_waiting_subscriber_alike(
    gql: GraphQLClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    author = await sign_up(gql, "author")
    post_id = await post(gql, author, "hello")
    plan = compile_subscription(parse(DOCUMENT), None)
    assert plan is not None
    reads = services.runtime.live
    assert reads is not None

    async def away(*args: object, **kwargs: object) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(Reader, "fetch", away)
    results = await asyncio.gather(
        *(
            reads.answer(
                plan,
                plan.read,
                plan.shape,
                seq=10_002,
                post_id=_key(post_id, "Post"),
                viewer_id=viewer,
            )
            for viewer in (None, _key(author.id, "Account"))
        ),
        return_exceptions=True,
    )

    assert [type(r) for r in results] == [LiveReadFailed, LiveReadFailed]


EDIT = """
mutation ($id: ID!, $body: String!) {
  editPost(input: {postId: $id, body: $body}) { __typename }
}
"""


async def test_a_later_batch_for_the_same_event_sees_the_post_as_it_is_now(
    gql: GraphQLClient, services: Services
) -> None:
    """A subscriber that asks after its event's first batch ran (a late one, one catching
    up with `after`) is not answered from a kept copy: an edit made in between shows."""
    author = await sign_up(gql, "author")
    reader = await sign_up(gql, "reader")
    post_id = await post(gql, author, "my phone is 555-0100")
    plan = compile_subscription(parse("subscription { publicFeed { post { body } } }"), None)
    assert plan is not None
    reads = services.runtime.live
    assert reads is not None
    key = _key(post_id, "Post")
    (first,) = await _ask(reads, plan, key, 20_001, [None])
    edited = await gql.execute(EDIT, {"id": post_id, "body": "ask me by DM"}, token=author.token)
    (later,) = await _ask(reads, plan, key, 20_001, [_key(reader.id, "Account")])

    assert first is not None and later is not None
    assert edited["editPost"]["__typename"] == "PostPayload", edited
    assert json.loads(first)["data"]["publicFeed"]["post"]["body"] == "my phone is 555-0100"
    assert json.loads(later)["data"]["publicFeed"]["post"]["body"] == "ask me by DM"
