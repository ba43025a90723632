"""Arranging accounts, follows and posts through the public API."""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.graphql import GraphQLClient

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    __typename
    ... on SessionPayload { token account { id handle } }
    ... on UserError { code field message }
  }
}
"""
FOLLOW = """
mutation Follow($id: ID!) {
  followAccount(input: {accountId: $id}) { __typename ... on UserError { code } }
}
"""
CREATE_POST = """
mutation Post($input: CreatePostInput!) {
  createPost(input: $input) {
    __typename
    ... on PostPayload { post { id body visibility } }
    ... on UserError { code field message }
  }
}
"""
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class User:
    id: str
    handle: str
    token: str


async def sign_up(gql: GraphQLClient, handle: str) -> User:
    data = await gql.execute(
        SIGN_UP,
        {"input": {"handle": handle, "email": f"{handle}@example.com", "password": PASSWORD}},
    )
    result = data["signUp"]
    assert result["__typename"] == "SessionPayload", result
    return User(id=result["account"]["id"], handle=handle, token=result["token"])


async def follow(gql: GraphQLClient, follower: User, followee: User) -> None:
    data = await gql.execute(FOLLOW, {"id": followee.id}, token=follower.token)
    assert data["followAccount"]["__typename"] == "AccountPayload", data


async def post(gql: GraphQLClient, author: User, body: str, **extra: object) -> str:
    data = await gql.execute(CREATE_POST, {"input": {"body": body, **extra}}, token=author.token)
    result = data["createPost"]
    assert result["__typename"] == "PostPayload", result
    post_id: str = result["post"]["id"]
    return post_id
