"""Query cost through the API (issue 11, items 1 and 5): the nested-lists attack is refused
before any resolver and any SQL, anonymous or signed in; a mutation whose payload selection
holds a bad argument is refused before it writes; clients read the cost and their budget in
`extensions.cost` and `rateLimit`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.runtime import Services
from app.settings import DEFAULT_RATE_LIMITS, Settings
from tests.conftest import make_settings
from tests.support.accounts import User, sign_up
from tests.support.attacks import ATTACK, ATTACK_ALIASED, ITEM_5
from tests.support.backends import Database
from tests.support.budgets import within_one_window
from tests.support.graphql import GraphQLClient
from tests.support.limits import RELAXED_RATE_LIMITS
from tests.support.staff import make_staff
from tests.support.statements import counting_statements

ITEM_5_VARIABLES = """
mutation ($first: Int!, $after: String) {
  createPost(input: {body: "x"}) {
    ... on PostPayload { post { id thread(first: $first, after: $after) { edges { cursor } } } }
  }
}
"""
POSTS_OF = """
query ($handle: String!) { account(handle: $handle) { posts(first: 10) { edges { node { body } } } } }
"""
HOME = """
query HomeTimeline {
  homeTimeline(first: 20) {
    edges { cursor node { id body createdAt likeCount replyCount repostCount viewerHasLiked
                         author { handle displayName } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
# A staff-only field in a mutation's payload: FORBIDDEN after the write, until admission.
WITH_STAFF_FIELD = """
mutation { createPost(input: {body: "x"}) {
  ... on PostPayload { post { id author { billing { plan { code } } } } }
} }
"""
RATE_LIMIT = "{ rateLimit { cost maxCost limit remaining resetAt } }"
INVALID = "{ noSuchField }"


@pytest.fixture
def settings(database: Database) -> Settings:
    """This module's figures are the default budgets'; the other rules stay relaxed."""
    budgets = {name: r for name, r in DEFAULT_RATE_LIMITS.items() if name.startswith("budget.")}
    return make_settings(database, rate_limits=RELAXED_RATE_LIMITS | budgets)


async def ask(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, token: str = ""
) -> httpx.Response:
    headers = {"accept": "application/graphql-response+json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return await http.post("/graphql", json={"query": query, "variables": variables or {}},
                           headers=headers)  # fmt: skip


@pytest.mark.parametrize(
    ("document", "cost"), [(ATTACK, 1_020_301), (ATTACK_ALIASED, 3 * 1_020_301)]
)
async def test_the_nested_lists_attack_is_refused_anonymously_before_any_sql(
    http: httpx.AsyncClient, services: Services, document: str, cost: int
) -> None:
    with counting_statements(services) as statements:
        response = await ask(http, document)

    body = response.json()
    assert response.status_code == 400
    assert "data" not in body
    assert [e["extensions"] for e in body["errors"]] == [
        {"code": "QUERY_TOO_COSTLY", "cost": cost, "maxCost": 10_000}
    ]
    assert body["extensions"]["cost"] == {"requestedQueryCost": cost, "maxCost": 10_000}
    assert statements.every == []


@pytest.mark.parametrize("document", [ATTACK, ATTACK_ALIASED])
async def test_the_nested_lists_attack_is_refused_signed_in_before_any_sql(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, document: str
) -> None:
    await within_one_window()
    user = await sign_up(gql, "mallory")
    await ask(http, INVALID, token=user.token)  # the session is looked up; warm up alike
    with counting_statements(services) as refused:
        response = await ask(http, document, token=user.token)
    with counting_statements(services) as invalid:
        await ask(http, INVALID, token=user.token)

    body = response.json()
    assert response.status_code == 400
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COSTLY"]
    assert refused.in_operation == []
    # Only the session lookup, as for a document that fails validation.
    assert len(refused.every) == len(invalid.every)
    budget = (await gql.execute(RATE_LIMIT, token=user.token))["rateLimit"]
    assert budget["remaining"] == budget["limit"] - 1, "a refused operation is not charged"


async def test_a_mutation_whose_payload_has_a_bad_page_size_is_refused_before_it_writes(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    author = await sign_up(gql, "author")

    response = await ask(http, ITEM_5, token=author.token)

    body = response.json()
    assert response.status_code == 400
    assert "data" not in body
    assert [e["extensions"] for e in body["errors"]] == [
        {"code": "BAD_USER_INPUT", "argument": "first"}
    ]
    assert await posts_of(gql, author) == []


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 139},
        {"first": 0},
        {"first": 10, "after": "garbage"},
        {"first": 10, "after": "ZTE6MQ=="},
    ],
)
async def test_bad_arguments_in_a_payload_given_as_variables_are_refused_before_any_write(
    http: httpx.AsyncClient, gql: GraphQLClient, variables: dict[str, Any]
) -> None:
    author = await sign_up(gql, "author")

    response = await ask(http, ITEM_5_VARIABLES, variables, token=author.token)

    assert response.status_code == 400
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_USER_INPUT"]
    assert await posts_of(gql, author) == []


async def test_the_same_mutation_with_a_good_page_size_writes_once_and_answers(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    author = await sign_up(gql, "author")

    response = await ask(http, ITEM_5.replace("139", "10"), token=author.token)

    post = response.json()["data"]["createPost"]["post"]
    assert response.status_code == 200
    assert len(post["thread"]["edges"]) == 1
    assert await posts_of(gql, author) == ["x"]


async def test_a_mutation_whose_payload_needs_a_role_the_viewer_lacks_is_refused_before_it_writes(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    author = await sign_up(gql, "author")

    response = await ask(http, WITH_STAFF_FIELD, token=author.token)

    body = response.json()
    assert response.status_code == 400
    assert "data" not in body
    assert [e["extensions"] for e in body["errors"]] == [
        {"code": "FORBIDDEN", "reason": "ROLE_REQUIRED"}
    ]
    assert body["errors"][0]["locations"] == [{"line": 3, "column": 43}]
    assert await posts_of(gql, author) == []


async def test_staff_holding_the_role_get_the_payload_and_the_write(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    staff = await make_staff(gql, services, "billie", "BILLING_ADMIN")

    response = await ask(http, WITH_STAFF_FIELD, token=staff.token)

    post = response.json()["data"]["createPost"]["post"]
    assert post["author"]["billing"]["plan"]["code"] == "free"
    assert await posts_of(gql, staff) == ["x"]


async def test_every_response_carries_its_cost_and_the_budget_after_it(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    await within_one_window()
    reader = await sign_up(gql, "reader")

    home = (await ask(http, HOME, token=reader.token)).json()
    limit = (await ask(http, RATE_LIMIT, token=reader.token)).json()
    anonymous = (await ask(http, "{ publicFeed(first: 20) { edges { node { body } } } }")).json()

    assert home["extensions"]["cost"] | {"resetAt": None} == {
        "requestedQueryCost": 41,
        "maxCost": 10_000,
        "limit": 200_000,
        "remaining": 200_000 - 41,
        "resetAt": None,
    }
    budget = limit["data"]["rateLimit"]
    assert budget | {"resetAt": None} == {
        "cost": 1,
        "maxCost": 10_000,
        "limit": 200_000,
        "remaining": 200_000 - 42,
        "resetAt": None,
    }
    assert datetime.fromisoformat(budget["resetAt"]) > datetime.now(UTC)
    assert limit["extensions"]["cost"]["remaining"] == budget["remaining"]
    assert anonymous["extensions"]["cost"]["limit"] == 50_000
    assert anonymous["extensions"]["cost"]["requestedQueryCost"] == 21


async def test_a_query_field_with_a_bad_page_size_is_a_request_error(
    http: httpx.AsyncClient,
) -> None:
    response = await ask(http, "{ publicFeed(first: 101) { edges { cursor } } viewer { id } }")

    body = response.json()
    assert response.status_code == 400
    assert "data" not in body
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "first"}
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 14}]


async def posts_of(gql: GraphQLClient, user: User) -> list[str]:
    data = await gql.execute(POSTS_OF, {"handle": user.handle}, token=user.token)
    return [e["node"]["body"] for e in data["account"]["posts"]["edges"]]
