"""Posts: create, reply, repost, like, edit with history, delete, visibility."""

from __future__ import annotations

import pytest

from tests.support.accounts import CREATE_POST, post, sign_up
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


async def test_a_bad_body_is_a_validation_error(gql: GraphQLClient) -> None:
    # The mapping; every rule on bodies is tested in tests/domain/test_posts.py.
    ada = await sign_up(gql, "ada")

    data = await gql.execute(CREATE_POST, {"input": {"body": "x" * 501}}, token=ada.token)

    assert data["createPost"]["__typename"] == "ValidationError"
    assert (data["createPost"]["code"], data["createPost"]["field"]) == ("POST_TOO_LONG", "body")


@pytest.mark.parametrize(
    ("reply_to", "code"),
    [
        ("not-an-id", "INVALID_ID"),
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


async def test_like_and_unlike_answer_with_the_post(gql: GraphQLClient) -> None:
    # The payloads; that liking and unliking twice change nothing is tested in
    # tests/domain/test_posts.py.
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")
    post_id = await post(gql, ada, "like me")

    liked = await gql.execute(LIKE, {"id": post_id}, token=grace.token)
    assert liked["likePost"]["post"] == {"likeCount": 1, "viewerHasLiked": True}

    unliked = await gql.execute(UNLIKE, {"id": post_id}, token=grace.token)
    assert unliked["unlikePost"]["post"] == {"likeCount": 0}


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


async def test_replies_and_reposts_resolve_their_relations(gql: GraphQLClient) -> None:
    # The GraphQL fields only; the rules behind them are tested in tests/domain/test_posts.py.
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")
    root = await post(gql, ada, "root")
    reply = await post(gql, grace, "reply", replyToId=root)
    repost = await gql.execute(REPOST, {"id": root}, token=grace.token)

    data = await gql.execute(POST, {"id": reply})

    assert data["post"]["replyTo"] == {"id": root}
    assert [e["node"]["body"] for e in data["post"]["thread"]["edges"]] == ["root", "reply"]
    assert repost["repostPost"]["post"]["repostOf"] == {"id": root}
    counts = (await gql.execute(POST, {"id": root}))["post"]
    assert (counts["replyCount"], counts["repostCount"], counts["repostOf"]) == (1, 1, None)
