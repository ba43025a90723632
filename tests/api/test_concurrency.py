"""Retries and races: the same change sent several times at once lands once."""

from __future__ import annotations

import asyncio

from tests.support.accounts import follow, post, sign_up
from tests.support.graphql import GraphQLClient

LIKE = "mutation($id: ID!) { likePost(input: {postId: $id}) { __typename } }"
DELETE = "mutation($id: ID!) { deletePost(input: {postId: $id}) { __typename ... on UserError { code } } }"
FOLLOW = "mutation($id: ID!) { followAccount(input: {accountId: $id}) { __typename ... on UserError { code } } }"
BLOCK = "mutation($id: ID!) { blockAccount(input: {accountId: $id}) { __typename } }"
COUNTS = """
query($id: ID!, $handle: String!) {
  post(id: $id) { likeCount }
  account(handle: $handle) { postsCount followersCount followingCount }
}
"""
ACCOUNT = "query($handle: String!) { account(handle: $handle) { postsCount followersCount followingCount } }"


async def test_concurrent_likes_by_one_account_count_once(gql: GraphQLClient) -> None:
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")
    post_id = await post(gql, ada, "popular")

    results = await asyncio.gather(
        *(gql.execute(LIKE, {"id": post_id}, token=grace.token) for _ in range(6))
    )

    assert {r["likePost"]["__typename"] for r in results} == {"PostPayload"}
    counts = await gql.execute(COUNTS, {"id": post_id, "handle": "ada"})
    assert counts["post"]["likeCount"] == 1


async def test_concurrent_deletes_delete_once_and_count_once(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")
    await post(gql, ada, "keep")
    doomed = await post(gql, ada, "doomed")

    results = await asyncio.gather(
        *(gql.execute(DELETE, {"id": doomed}, token=ada.token) for _ in range(4))
    )

    kinds = sorted(r["deletePost"]["__typename"] for r in results)
    assert kinds == ["DeletePostPayload", "NotFoundError", "NotFoundError", "NotFoundError"]
    account = await gql.execute(ACCOUNT, {"handle": "ada"})
    assert account["account"]["postsCount"] == 1


async def test_follows_racing_a_block_never_outlive_it(gql: GraphQLClient) -> None:
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")

    await asyncio.gather(
        *(gql.execute(FOLLOW, {"id": grace.id}, token=ada.token) for _ in range(3)),
        gql.execute(BLOCK, {"id": ada.id}, token=grace.token),
        *(gql.execute(FOLLOW, {"id": grace.id}, token=ada.token) for _ in range(3)),
    )

    ada_counts = await gql.execute(ACCOUNT, {"handle": "ada"}, token=ada.token)
    assert ada_counts["account"]["followingCount"] == 0
    grace_counts = await gql.execute(ACCOUNT, {"handle": "grace"}, token=grace.token)
    assert grace_counts["account"]["followersCount"] == 0


async def test_concurrent_follows_count_once(gql: GraphQLClient) -> None:
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")

    results = await asyncio.gather(
        *(gql.execute(FOLLOW, {"id": grace.id}, token=ada.token) for _ in range(5))
    )

    assert {r["followAccount"]["__typename"] for r in results} == {"AccountPayload"}
    counts = await gql.execute(ACCOUNT, {"handle": "grace"})
    assert counts["account"]["followersCount"] == 1
    await follow(gql, ada, grace)
    assert (await gql.execute(ACCOUNT, {"handle": "ada"}))["account"]["followingCount"] == 1
