"""History: an account's profile changes and a post's earlier versions, for the owner and
for staff (audited); null for everyone else."""

from __future__ import annotations

from app.runtime import Services
from tests.support.accounts import post, sign_up
from tests.support.audit import audit_entries
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff

UPDATE_PROFILE = """
mutation ($input: UpdateProfileInput!) { updateProfile(input: $input) { __typename } }
"""
PROFILE_HISTORY = """
query ($id: ID!) {
  node(id: $id) {
    ... on Account {
      profileHistory { changedAt editor { handle } changes { field before after } }
    }
  }
}
"""
EDIT_POST = """
mutation ($id: ID!, $body: String!) { editPost(input: {postId: $id, body: $body}) { __typename } }
"""
EDIT_HISTORY = "query ($id: ID!) { post(id: $id) { editHistory { body } } }"


async def test_the_owner_and_staff_see_who_changed_the_profile_others_see_null(
    gql: GraphQLClient, services: Services
) -> None:
    owner = await sign_up(gql, "owner")
    stranger = await sign_up(gql, "stranger")
    billing = await make_staff(gql, services, "biller", "BILLING_ADMIN")
    auditor = await make_staff(gql, services, "auditor", "AUDITOR")
    await gql.execute(
        UPDATE_PROFILE, {"input": {"displayName": "Owen", "bio": "hi"}}, token=owner.token
    )
    await gql.execute(UPDATE_PROFILE, {"input": {"bio": "hello"}}, token=owner.token)

    own = await gql.execute(PROFILE_HISTORY, {"id": owner.id}, token=owner.token)
    by_auditor = await gql.execute(PROFILE_HISTORY, {"id": owner.id}, token=auditor.token)
    by_stranger = await gql.execute(PROFILE_HISTORY, {"id": owner.id}, token=stranger.token)
    by_billing = await gql.execute(PROFILE_HISTORY, {"id": owner.id}, token=billing.token)
    by_anonymous = await gql.execute(PROFILE_HISTORY, {"id": owner.id})

    history = own["node"]["profileHistory"]
    assert [h["changes"] for h in history] == [
        [{"field": "bio", "before": "hi", "after": "hello"}],
        [
            {"field": "displayName", "before": "owner", "after": "Owen"},
            {"field": "bio", "before": "", "after": "hi"},
        ],
    ]
    assert {h["editor"]["handle"] for h in history} == {"owner"}
    assert by_auditor["node"]["profileHistory"] == history
    assert by_stranger["node"]["profileHistory"] is None
    assert by_billing["node"]["profileHistory"] is None
    assert by_anonymous["node"]["profileHistory"] is None
    [read] = await audit_entries(services, action="read.profile_history")
    assert (read.actor_handle, read.target_type) == ("auditor", "account")


async def test_post_edit_history_is_for_the_author_and_staff_and_staff_reads_are_audited(
    gql: GraphQLClient, services: Services
) -> None:
    author = await sign_up(gql, "author")
    reader = await sign_up(gql, "reader")
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    post_id = await post(gql, author, "first draft")
    await gql.execute(EDIT_POST, {"id": post_id, "body": "second draft"}, token=author.token)

    own = await gql.execute(EDIT_HISTORY, {"id": post_id}, token=author.token)
    by_reader = await gql.execute(EDIT_HISTORY, {"id": post_id}, token=reader.token)
    by_moderator = await gql.execute(EDIT_HISTORY, {"id": post_id}, token=moderator.token)

    assert own["post"]["editHistory"] == [{"body": "first draft"}]
    assert by_reader["post"]["editHistory"] is None
    assert by_moderator["post"]["editHistory"] == [{"body": "first draft"}]
    [read] = await audit_entries(services, action="read.post_history")
    assert (read.actor_handle, read.target_type) == ("mod", "post")
    assert await audit_entries(services, action="read.profile_history") == []
