"""Entitlements are enforced by the domain: a post's length and how long it stays editable
follow the author's plan (Free 500 / 1 hour, Plus 1000 / 1 day, Pro 4000 / always)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app.runtime import Services
from app.settings import Settings
from models.base import utcnow
from models.posts.tables import Post
from resolvers.paging import parse_global_id
from tests.support.accounts import CREATE_POST, User, post, sign_up
from tests.support.billing import localstripe_settings  # noqa: F401 - `settings`
from tests.support.billing_flows import subscribed
from tests.support.graphql import GraphQLClient
from tests.support.stripe import LocalStripe

EDIT = """
mutation ($input: EditPostInput!) {
  editPost(input: $input) {
    __typename ... on PostPayload { post { body } } ... on UserError { code field message }
  }
}
"""


async def _create(gql: GraphQLClient, author: User, length: int) -> dict[str, Any]:
    data = await gql.execute(CREATE_POST, {"input": {"body": "x" * length}}, token=author.token)
    result: dict[str, Any] = data["createPost"]
    return result


async def _edit(gql: GraphQLClient, author: User, post_id: str, body: str) -> dict[str, Any]:
    variables = {"input": {"postId": post_id, "body": body}}
    result: dict[str, Any] = (await gql.execute(EDIT, variables, token=author.token))["editPost"]
    return result


async def _age(services: Services, post_id: str, by: timedelta) -> None:
    key = parse_global_id(post_id, expect="Post", field="id")[1]
    async with services.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(Post).where(Post.id == key).values(created_at=utcnow() - by))


@pytest.mark.parametrize(("plan", "longest"), [(None, 500), ("plus", 1000), ("pro", 4000)])
async def test_the_longest_post_is_the_plans(
    gql: GraphQLClient,
    localstripe: LocalStripe,
    settings: Settings,
    plan: str | None,
    longest: int,
) -> None:
    ada = await sign_up(gql, "ada")
    if plan is not None:
        await subscribed(gql, localstripe, settings, ada, plan)

    fits = await _create(gql, ada, longest)
    too_long = await _create(gql, ada, longest + 1)
    edited_too_long = await _edit(gql, ada, fits["post"]["id"], "y" * (longest + 1))

    assert fits["__typename"] == "PostPayload"
    assert (too_long["code"], too_long["field"]) == ("POST_TOO_LONG", "body")
    assert f"at most {longest} characters" in too_long["message"]
    assert edited_too_long["code"] == "POST_TOO_LONG"


@pytest.mark.parametrize(
    ("plan", "still_editable", "closed"),
    [
        (None, timedelta(minutes=59), timedelta(minutes=61)),
        ("plus", timedelta(hours=23), timedelta(hours=25)),
        ("pro", timedelta(days=3650), None),
    ],
)
async def test_a_post_is_editable_within_the_plans_window(
    gql: GraphQLClient,
    services: Services,
    localstripe: LocalStripe,
    settings: Settings,
    plan: str | None,
    still_editable: timedelta,
    closed: timedelta | None,
) -> None:
    ada = await sign_up(gql, "ada")
    if plan is not None:
        await subscribed(gql, localstripe, settings, ada, plan)
    post_id = await post(gql, ada, "first draft")

    await _age(services, post_id, still_editable)
    within = await _edit(gql, ada, post_id, "second draft")

    assert within == {"__typename": "PostPayload", "post": {"body": "second draft"}}
    if closed is not None:
        await _age(services, post_id, closed)
        late = await _edit(gql, ada, post_id, "third draft")
        assert late["__typename"] == "NotAllowedError"
        assert (late["code"], late["field"]) == ("EDIT_WINDOW_CLOSED", "postId")


async def test_losing_the_plan_brings_back_the_free_limits(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe, settings: Settings
) -> None:
    ada = await sign_up(gql, "ada")
    await subscribed(gql, localstripe, settings, ada, "pro")
    long_post = await _create(gql, ada, 3000)
    from models.billing.tables import Subscription

    async with services.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(Subscription).values(status="canceled", canceled_at=utcnow()))

    too_long = await _create(gql, ada, 501)
    shortened = await _edit(gql, ada, long_post["post"]["id"], "short now")

    assert too_long["code"] == "POST_TOO_LONG"
    assert shortened["post"] == {"body": "short now"}
