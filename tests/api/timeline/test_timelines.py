"""Follows, blocks, mutes and every timeline, with keyset paging."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import eventually
from tests.support.accounts import User, follow, post, sign_up
from tests.support.graphql import GraphQLClient

HOME = """
query Home($first: Int!, $after: String) {
  homeTimeline(first: $first, after: $after) {
    edges { cursor node { body author { handle } repostOf { body } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
PUBLIC = """
query Public($first: Int!, $after: String) {
  publicFeed(first: $first, after: $after) {
    edges { node { body } } pageInfo { hasNextPage endCursor }
  }
}
"""
ACCOUNT = """
query Account($handle: String!) {
  account(handle: $handle) {
    followersCount followingCount postsCount viewerFollows
    followers(first: 10) { edges { node { handle } } }
    following(first: 10) { edges { node { handle } } }
    posts(first: 10) { edges { node { body } } }
  }
}
"""
EDGE = "mutation($id: ID!) {{ {name}(input: {{accountId: $id}}) {{ __typename ... on UserError {{ code }} }} }}"


async def _edge(gql: GraphQLClient, name: str, actor: User, target_id: str) -> dict[str, Any]:
    data = await gql.execute(EDGE.format(name=name), {"id": target_id}, token=actor.token)
    result: dict[str, Any] = data[name]
    return result


async def test_reposts_reach_followers(gql: GraphQLClient) -> None:
    ada, grace, linus = [await sign_up(gql, h) for h in ("ada", "grace", "linus")]
    await follow(gql, ada, grace)
    original = await post(gql, linus, "worth sharing")

    await gql.execute(
        "mutation($id: ID!) { repostPost(input: {postId: $id}) { __typename } }",
        {"id": original},
        token=grace.token,
    )

    async def check() -> bool:
        data = await gql.execute(HOME, {"first": 5}, token=ada.token)
        edges = data["homeTimeline"]["edges"]
        return [e["node"]["repostOf"] for e in edges] == [{"body": "worth sharing"}]

    await eventually(check)


async def test_counts_and_follow_lists(gql: GraphQLClient) -> None:
    ada, grace, linus = [await sign_up(gql, h) for h in ("ada", "grace", "linus")]
    await follow(gql, grace, ada)
    await follow(gql, linus, ada)
    await follow(gql, ada, grace)
    await post(gql, ada, "hello")

    data = await gql.execute(ACCOUNT, {"handle": "ada"}, token=grace.token)

    account = data["account"]
    assert (account["followersCount"], account["followingCount"], account["postsCount"]) == (
        2,
        1,
        1,
    )
    assert account["viewerFollows"] is True
    assert [e["node"]["handle"] for e in account["followers"]["edges"]] == ["linus", "grace"]
    assert [e["node"]["handle"] for e in account["following"]["edges"]] == ["grace"]
    assert [e["node"]["body"] for e in account["posts"]["edges"]] == ["hello"]


async def test_paging_is_stable_while_new_posts_arrive(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")
    for n in range(7):
        await post(gql, ada, f"post {n}")

    page1 = await gql.execute(PUBLIC, {"first": 3})
    await post(gql, ada, "newer, arrives between pages")
    cursor = page1["publicFeed"]["pageInfo"]["endCursor"]
    page2 = await gql.execute(PUBLIC, {"first": 3, "after": cursor})
    page3 = await gql.execute(
        PUBLIC, {"first": 3, "after": page2["publicFeed"]["pageInfo"]["endCursor"]}
    )

    seen = [
        e["node"]["body"] for page in (page1, page2, page3) for e in page["publicFeed"]["edges"]
    ]
    assert seen == [f"post {n}" for n in range(6, -1, -1)]
    assert page3["publicFeed"]["pageInfo"]["hasNextPage"] is False
    assert page2["publicFeed"]["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize("first", [0, -1, 101, 10**9])
async def test_first_out_of_bounds_is_bad_user_input(gql: GraphQLClient, first: int) -> None:
    errors = await gql.errors(PUBLIC, {"first": first})

    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[0]["extensions"]["argument"] == "first"


@pytest.mark.parametrize("after", ["garbage", "!!!", "YzE6LTE=", ""])
async def test_malformed_cursor_is_bad_user_input(gql: GraphQLClient, after: str) -> None:
    errors = await gql.errors(PUBLIC, {"first": 5, "after": after})

    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "after"}


async def test_home_timeline_needs_a_viewer(gql: GraphQLClient) -> None:
    errors = await gql.errors(HOME, {"first": 5})

    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_node_resolves_global_ids(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")
    post_id = await post(gql, ada, "by node")
    query = "query($id: ID!) { node(id: $id) { __typename id ... on Post { body } ... on Account { handle } } }"

    as_post = await gql.execute(query, {"id": post_id})
    as_account = await gql.execute(query, {"id": ada.id})
    unknown = await gql.execute(query, {"id": "UG9zdDo5OTk5"})
    malformed = await gql.errors(query, {"id": "%%%"})

    assert as_post["node"] == {"__typename": "Post", "id": post_id, "body": "by node"}
    assert as_account["node"]["handle"] == "ada"
    assert unknown["node"] is None
    assert malformed[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_follow_lists_leave_out_accounts_across_a_block(gql: GraphQLClient) -> None:
    ada, grace, linus = [await sign_up(gql, h) for h in ("ada", "grace", "linus")]
    await follow(gql, grace, linus)
    await follow(gql, ada, linus)
    await _edge(gql, "blockAccount", grace, ada.id)
    query = (
        'query { account(handle: "linus") { followers(first: 10) { edges { node { handle } } } } }'
    )

    as_ada = await gql.execute(query, token=ada.token)
    as_linus = await gql.execute(query, token=linus.token)

    assert [e["node"]["handle"] for e in as_ada["account"]["followers"]["edges"]] == ["ada"]
    handles = [e["node"]["handle"] for e in as_linus["account"]["followers"]["edges"]]
    assert handles == ["ada", "grace"]


async def test_graph_mutations_answer_with_the_target_account(gql: GraphQLClient) -> None:
    # The GraphQL mapping only; the rules are tested in tests/domain/test_social.py.
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")
    await follow(gql, ada, grace)

    answers = [
        (await _edge(gql, name, ada, grace.id))["__typename"]
        for name in ("unfollowAccount", "muteAccount", "unmuteAccount", "blockAccount")
    ]
    to_self = await _edge(gql, "followAccount", ada, ada.id)
    across_block = await _edge(gql, "followAccount", ada, grace.id)

    assert answers == ["AccountPayload"] * 4
    assert to_self == {"__typename": "NotAllowedError", "code": "CANNOT_TARGET_SELF"}
    assert across_block == {"__typename": "NotFoundError", "code": "NOT_FOUND"}
    assert (await gql.execute(ACCOUNT, {"handle": "grace"}, token=ada.token))["account"] is None
