"""Posts: create, reply, repost, like, edit with history, delete, visibility."""

from __future__ import annotations

import pytest

from tests.support.accounts import CREATE_POST, follow, post, sign_up
from tests.support.graphql import GraphQLClient

POST = """
query Post($id: ID!) {
  post(id: $id) {
    body likeCount replyCount repostCount viewerHasLiked editedAt
    author { handle }
    replyTo { id }
    repostOf { id body }
    editHistory { body }
    thread(first: 10) { edges { node { body } } }
  }
}
"""
LIKE = "mutation($id: ID!) { likePost(input: {postId: $id}) { __typename ... on PostPayload { post { likeCount viewerHasLiked } } } }"
UNLIKE = "mutation($id: ID!) { unlikePost(input: {postId: $id}) { __typename ... on PostPayload { post { likeCount } } } }"
REPOST = "mutation($id: ID!) { repostPost(input: {postId: $id}) { __typename ... on PostPayload { post { id repostOf { id } } } ... on UserError { code } } }"
EDIT = """
mutation($id: ID!, $body: String!) {
  editPost(input: {postId: $id, body: $body}) {
    __typename ... on PostPayload { post { body } } ... on UserError { code field }
  }
}
"""
DELETE = "mutation($id: ID!) { deletePost(input: {postId: $id}) { __typename ... on DeletePostPayload { deletedPostId } ... on UserError { code } } }"


async def test_create_post_and_read_it_back(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")

    post_id = await post(gql, ada, "Hello, world")

    data = await gql.execute(POST, {"id": post_id})
    assert data["post"]["body"] == "Hello, world"
    assert data["post"]["author"] == {"handle": "ada"}
    assert data["post"]["viewerHasLiked"] is False


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "POST_EMPTY"), ("   \n\t", "POST_EMPTY"), ("x" * 501, "POST_TOO_LONG")],
)
async def test_create_post_rejects_bad_bodies(gql: GraphQLClient, body: str, code: str) -> None:
    ada = await sign_up(gql, "ada")

    data = await gql.execute(CREATE_POST, {"input": {"body": body}}, token=ada.token)

    assert data["createPost"]["__typename"] == "ValidationError"
    assert (data["createPost"]["code"], data["createPost"]["field"]) == (code, "body")


async def test_a_500_character_post_is_accepted(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")

    await post(gql, ada, "x" * 500)


@pytest.mark.parametrize(
    ("reply_to", "code"),
    [
        ("not-an-id", "INVALID_ID"),
        ("UG9zdDo5OTk5OTk=", "NOT_FOUND"),
        ("QWNjb3VudDox", "INVALID_ID"),
    ],
)
async def test_replying_to_a_bad_or_unknown_id(
    gql: GraphQLClient, reply_to: str, code: str
) -> None:
    ada = await sign_up(gql, "ada")

    data = await gql.execute(
        CREATE_POST, {"input": {"body": "hi", "replyToId": reply_to}}, token=ada.token
    )

    assert data["createPost"]["code"] == code
    assert data["createPost"]["field"] == "replyToId"


async def test_replies_form_a_thread_and_count(gql: GraphQLClient) -> None:
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")
    root = await post(gql, ada, "root")
    reply = await post(gql, grace, "first reply", replyToId=root)
    await post(gql, ada, "reply to reply", replyToId=reply)

    data = await gql.execute(POST, {"id": reply})

    assert data["post"]["replyTo"] == {"id": root}
    bodies = [e["node"]["body"] for e in data["post"]["thread"]["edges"]]
    assert bodies == ["root", "first reply", "reply to reply"]
    assert (await gql.execute(POST, {"id": root}))["post"]["replyCount"] == 1


async def test_like_and_unlike_are_idempotent(gql: GraphQLClient) -> None:
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")
    post_id = await post(gql, ada, "like me")

    await gql.execute(LIKE, {"id": post_id}, token=grace.token)
    twice = await gql.execute(LIKE, {"id": post_id}, token=grace.token)
    assert twice["likePost"]["post"] == {"likeCount": 1, "viewerHasLiked": True}

    await gql.execute(UNLIKE, {"id": post_id}, token=grace.token)
    again = await gql.execute(UNLIKE, {"id": post_id}, token=grace.token)
    assert again["unlikePost"]["post"] == {"likeCount": 0}


async def test_repost_once_and_count(gql: GraphQLClient) -> None:
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")
    post_id = await post(gql, ada, "share me")

    first = await gql.execute(REPOST, {"id": post_id}, token=grace.token)
    second = await gql.execute(REPOST, {"id": post_id}, token=grace.token)

    assert first["repostPost"]["post"]["repostOf"] == {"id": post_id}
    assert second["repostPost"]["post"]["id"] == first["repostPost"]["post"]["id"]
    assert (await gql.execute(POST, {"id": post_id}))["post"]["repostCount"] == 1


async def test_followers_only_posts_cannot_be_reposted_or_seen_by_strangers(
    gql: GraphQLClient,
) -> None:
    ada, grace, eve = [await sign_up(gql, h) for h in ("ada", "grace", "eve")]
    await follow(gql, grace, ada)
    post_id = await post(gql, ada, "friends only", visibility="FOLLOWERS")

    assert (await gql.execute(POST, {"id": post_id}, token=grace.token))["post"] is not None
    assert (await gql.execute(POST, {"id": post_id}, token=eve.token))["post"] is None
    assert (await gql.execute(POST, {"id": post_id}))["post"] is None
    repost = await gql.execute(REPOST, {"id": post_id}, token=grace.token)
    assert repost["repostPost"] == {"__typename": "NotAllowedError", "code": "CANNOT_REPOST"}


async def test_edit_keeps_history_visible_to_the_author_only(gql: GraphQLClient) -> None:
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")
    post_id = await post(gql, ada, "first draft")

    edited = await gql.execute(EDIT, {"id": post_id, "body": "second draft"}, token=ada.token)
    by_other = await gql.execute(EDIT, {"id": post_id, "body": "vandal"}, token=grace.token)

    assert edited["editPost"]["post"] == {"body": "second draft"}
    assert by_other["editPost"] == {
        "__typename": "NotAllowedError",
        "code": "NOT_AUTHOR",
        "field": "postId",
    }
    as_author = (await gql.execute(POST, {"id": post_id}, token=ada.token))["post"]
    assert as_author["editHistory"] == [{"body": "first draft"}]
    assert as_author["editedAt"] is not None
    assert (await gql.execute(POST, {"id": post_id}, token=grace.token))["post"][
        "editHistory"
    ] is None


async def test_delete_hides_the_post_everywhere(gql: GraphQLClient) -> None:
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")
    post_id = await post(gql, ada, "regret")

    refused = await gql.execute(DELETE, {"id": post_id}, token=grace.token)
    deleted = await gql.execute(DELETE, {"id": post_id}, token=ada.token)
    again = await gql.execute(DELETE, {"id": post_id}, token=ada.token)

    assert refused["deletePost"] == {"__typename": "NotAllowedError", "code": "NOT_AUTHOR"}
    assert deleted["deletePost"] == {"__typename": "DeletePostPayload", "deletedPostId": post_id}
    assert again["deletePost"] == {"__typename": "NotFoundError", "code": "NOT_FOUND"}
    assert (await gql.execute(POST, {"id": post_id}, token=ada.token))["post"] is None
    feed = await gql.execute("query { publicFeed(first: 10) { edges { node { id } } } }")
    assert feed["publicFeed"]["edges"] == []


async def test_a_repost_can_be_deleted_after_its_original(gql: GraphQLClient) -> None:
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")
    original = await post(gql, ada, "original")
    repost = await gql.execute(REPOST, {"id": original}, token=grace.token)
    repost_id = repost["repostPost"]["post"]["id"]
    await gql.execute(DELETE, {"id": original}, token=ada.token)

    deleted = await gql.execute(DELETE, {"id": repost_id}, token=grace.token)

    assert deleted["deletePost"] == {"__typename": "DeletePostPayload", "deletedPostId": repost_id}
    counts = await gql.execute('query { account(handle: "grace") { postsCount } }')
    assert counts["account"]["postsCount"] == 0
