"""Sign up, log in, the viewer, log out, profiles."""

from __future__ import annotations

import pytest

from tests.support.accounts import PASSWORD, SIGN_UP, sign_up
from tests.support.graphql import GraphQLClient

LOG_IN = """
mutation LogIn($input: LogInInput!) {
  logIn(input: $input) {
    __typename
    ... on SessionPayload { token account { handle } }
    ... on UserError { code message }
  }
}
"""
VIEWER = "query { viewer { handle email displayName followersCount } }"
LOG_OUT = "mutation { logOut { sessionsEnded } }"
LOG_OUT_EVERYWHERE = "mutation { logOutEverywhere { sessionsEnded } }"
UPDATE_PROFILE = """
mutation Update($input: UpdateProfileInput!) {
  updateProfile(input: $input) {
    __typename
    ... on ProfilePayload { account { displayName bio avatarUrl } }
    ... on UserError { code field }
  }
}
"""


def _sign_up_input(
    handle: str, email: str | None = None, password: str = PASSWORD
) -> dict[str, object]:
    return {
        "input": {
            "handle": handle,
            "email": f"{handle}@example.com" if email is None else email,
            "password": password,
        }
    }


async def test_sign_up_returns_a_session_that_identifies_the_viewer(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")

    data = await gql.execute(VIEWER, token=ada.token)

    assert data["viewer"] == {
        "handle": "ada",
        "email": "ada@example.com",
        "displayName": "ada",
        "followersCount": 0,
    }


async def test_anonymous_viewer_is_null(gql: GraphQLClient) -> None:
    assert (await gql.execute(VIEWER))["viewer"] is None


@pytest.mark.parametrize(
    ("handle", "email", "password", "code", "field"),
    [
        ("a", "a@example.com", PASSWORD, "INVALID_HANDLE", "handle"),
        ("bad handle!", "b@example.com", PASSWORD, "INVALID_HANDLE", "handle"),
        ("x" * 31, "c@example.com", PASSWORD, "INVALID_HANDLE", "handle"),
        ("valid_one", "not-an-email", PASSWORD, "INVALID_EMAIL", "email"),
        ("valid_two", "", PASSWORD, "INVALID_EMAIL", "email"),
        ("valid_three", "v3@example.com", "short", "PASSWORD_TOO_SHORT", "password"),
    ],
)
async def test_sign_up_rejects_bad_input_with_typed_errors(
    gql: GraphQLClient, handle: str, email: str, password: str, code: str, field: str
) -> None:
    data = await gql.execute(SIGN_UP, _sign_up_input(handle, email, password))

    assert data["signUp"]["__typename"] == "ValidationError"
    assert (data["signUp"]["code"], data["signUp"]["field"]) == (code, field)


async def test_handles_are_unique_ignoring_case_and_emails_are_normalised(
    gql: GraphQLClient,
) -> None:
    await sign_up(gql, "Grace")

    same_handle = await gql.execute(SIGN_UP, _sign_up_input("grace", "other@example.com"))
    same_email = await gql.execute(SIGN_UP, _sign_up_input("hopper", "  GRACE@Example.com "))

    assert same_handle["signUp"]["code"] == "HANDLE_TAKEN"
    assert same_email["signUp"]["code"] == "EMAIL_TAKEN"


async def test_log_in_by_handle_or_email_and_wrong_password(gql: GraphQLClient) -> None:
    await sign_up(gql, "linus")

    by_handle = await gql.execute(LOG_IN, {"input": {"login": "LINUS", "password": PASSWORD}})
    by_email = await gql.execute(
        LOG_IN, {"input": {"login": "linus@example.com", "password": PASSWORD}}
    )
    wrong = await gql.execute(LOG_IN, {"input": {"login": "linus", "password": "nope-nope-nope"}})
    unknown = await gql.execute(LOG_IN, {"input": {"login": "nobody", "password": PASSWORD}})

    assert by_handle["logIn"]["account"]["handle"] == "linus"
    assert by_email["logIn"]["token"] != by_handle["logIn"]["token"]
    assert wrong["logIn"] == {
        "__typename": "AuthenticationError",
        "code": "INVALID_CREDENTIALS",
        "message": "Wrong handle, email or password.",
    }
    assert unknown["logIn"] == wrong["logIn"]


async def test_log_out_revokes_only_that_session(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")
    other = await gql.execute(LOG_IN, {"input": {"login": "ada", "password": PASSWORD}})
    other_token = other["logIn"]["token"]

    await gql.execute(LOG_OUT, token=ada.token)

    revoked = await gql.post(VIEWER, token=ada.token)
    assert revoked.status_code == 401
    assert revoked.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await gql.execute(VIEWER, token=other_token))["viewer"]["handle"] == "ada"


async def test_log_out_everywhere_revokes_every_session(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")
    other = await gql.execute(LOG_IN, {"input": {"login": "ada", "password": PASSWORD}})

    data = await gql.execute(LOG_OUT_EVERYWHERE, token=ada.token)

    assert data["logOutEverywhere"]["sessionsEnded"] == 2
    assert (await gql.post(VIEWER, token=other["logIn"]["token"])).status_code == 401


async def test_mutations_that_need_a_viewer_say_unauthenticated(gql: GraphQLClient) -> None:
    errors = await gql.errors(LOG_OUT)

    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_update_profile_changes_only_given_fields(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")

    data = await gql.execute(
        UPDATE_PROFILE,
        {"input": {"bio": "Poet of science", "avatarUrl": "https://img.example.com/ada.png"}},
        token=ada.token,
    )

    assert data["updateProfile"]["account"] == {
        "displayName": "ada",
        "bio": "Poet of science",
        "avatarUrl": "https://img.example.com/ada.png",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("displayName", "x" * 51), ("bio", "x" * 301), ("avatarUrl", "javascript:alert(1)")],
)
async def test_update_profile_rejects_bad_values(
    gql: GraphQLClient, field: str, value: str
) -> None:
    ada = await sign_up(gql, "ada")

    data = await gql.execute(UPDATE_PROFILE, {"input": {field: value}}, token=ada.token)

    assert data["updateProfile"] == {
        "__typename": "ValidationError",
        "code": "INVALID_PROFILE",
        "field": field,
    }


async def test_emails_are_visible_only_to_their_owner(gql: GraphQLClient) -> None:
    await sign_up(gql, "ada")
    grace = await sign_up(gql, "grace")

    data = await gql.execute('query { account(handle: "ADA") { handle email } }', token=grace.token)

    assert data["account"] == {"handle": "ada", "email": None}
