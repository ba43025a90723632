"""Hostile input through the API is a typed error, never a 500: NUL and other control
characters (PostgreSQL refuses NUL in text), times and days at the ends of the calendar, and
search terms longer than anything they could match."""

from __future__ import annotations

from typing import Any

import pytest

from app.runtime import Services
from tests.support.accounts import PASSWORD, SIGN_UP, post, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff

NUL = "a\x00b"

MUTATION = """
mutation ($input: %s!) {
  %s(input: $input) { __typename ... on UserError { code field } }
}
"""
SEARCH = """
query ($filter: AccountSearchInput!) {
  accountSearch(filter: $filter, first: 5) { edges { node { handle } } }
}
"""
AUDIT_LOG = """
query ($filter: AuditLogFilter) {
  auditLog(first: 5, filter: $filter) { edges { node { id } } }
}
"""
STATISTICS = """
query ($first: Date!, $last: Date!) {
  platformStatistics(firstDay: $first, lastDay: $last) { day signUps }
}
"""


async def typed_error(
    gql: GraphQLClient, document: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    """The mutation's result: a UserError, with no top-level error."""
    data = await gql.execute(document, variables, token=token)
    (result,) = data.values()
    assert isinstance(result, dict)
    return result


async def bad_user_input(
    gql: GraphQLClient, document: str, variables: dict[str, Any], token: str
) -> dict[str, Any]:
    """The one top-level error of a query: BAD_USER_INPUT with the argument at fault."""
    errors = await gql.errors(document, variables, token=token)
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"], errors
    extensions: dict[str, Any] = errors[0]["extensions"]
    return extensions


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bio", NUL),
        ("bio", "bell\x07"),
        ("displayName", NUL),
        ("displayName", "two\nlines"),
        ("avatarUrl", "https://example.com/" + NUL),
    ],
)
async def test_a_control_character_in_a_profile_is_invalid_input(
    gql: GraphQLClient, field: str, value: str
) -> None:
    user = await sign_up(gql, "member")

    result = await typed_error(
        gql,
        MUTATION % ("UpdateProfileInput", "updateProfile"),
        {"input": {field: value}},
        token=user.token,
    )

    assert result == {"__typename": "ValidationError", "code": "INVALID_INPUT", "field": field}


async def test_a_multi_line_bio_is_still_fine(gql: GraphQLClient) -> None:
    user = await sign_up(gql, "member")

    result = await typed_error(
        gql,
        MUTATION % ("UpdateProfileInput", "updateProfile"),
        {"input": {"bio": "line one\r\nline two\twith a tab"}},
        token=user.token,
    )

    assert result == {"__typename": "ProfilePayload"}


async def test_a_nul_in_a_sign_up_email_is_invalid_input(gql: GraphQLClient) -> None:
    data = await gql.execute(
        SIGN_UP,
        {"input": {"handle": "zed", "email": "z\x00@example.com", "password": PASSWORD}},
    )

    assert data["signUp"]["__typename"] == "ValidationError"
    assert (data["signUp"]["code"], data["signUp"]["field"]) == ("INVALID_INPUT", "email")


async def test_a_nul_in_a_post_body_is_invalid_input(gql: GraphQLClient) -> None:
    author = await sign_up(gql, "author")
    post_id = await post(gql, author, "first draft")

    created = await typed_error(
        gql, MUTATION % ("CreatePostInput", "createPost"), {"input": {"body": NUL}}, author.token
    )
    edited = await typed_error(
        gql,
        MUTATION % ("EditPostInput", "editPost"),
        {"input": {"postId": post_id, "body": NUL}},
        author.token,
    )

    expected = {"__typename": "ValidationError", "code": "INVALID_INPUT", "field": "body"}
    assert created == expected
    assert edited == expected


@pytest.mark.parametrize(
    ("criterion", "value"),
    [
        ("handlePrefix", NUL),
        ("email", "a\x00b@example.com"),
        ("emailPrefix", "ab\x00c"),
        ("ip", "::1\x00"),
        ("handlePrefix", "a" * 100_000),
        ("handlePrefix", "a" * 31),
        ("email", "a" * 250 + "@x.io"),
        ("emailPrefix", "a" * 255),
    ],
)
async def test_a_search_term_with_a_nul_or_too_long_is_bad_user_input(
    gql: GraphQLClient, services: Services, criterion: str, value: str
) -> None:
    support = await make_staff(gql, services, "helper", "SUPPORT")

    extensions = await bad_user_input(gql, SEARCH, {"filter": {criterion: value}}, support.token)

    assert extensions["argument"] == criterion


async def test_like_wildcards_in_a_handle_prefix_are_literal(
    gql: GraphQLClient, services: Services
) -> None:
    support = await make_staff(gql, services, "helper", "SUPPORT")
    await sign_up(gql, "ab_c")
    await sign_up(gql, "abxc")

    underscore = await gql.execute(SEARCH, {"filter": {"handlePrefix": "ab_"}}, token=support.token)
    percent = await gql.execute(SEARCH, {"filter": {"handlePrefix": "%"}}, token=support.token)

    assert [e["node"]["handle"] for e in underscore["accountSearch"]["edges"]] == ["ab_c"]
    assert percent["accountSearch"]["edges"] == []


@pytest.mark.parametrize(
    ("audit_filter", "argument"),
    [
        ({"since": "0001-01-01T00:00:00+14:00"}, "filter.since"),
        ({"until": "9999-12-31T23:59:59-12:00"}, "filter.until"),
        ({"until": "2099-01-01T00:00:00"}, "filter.until"),  # no UTC offset
        ({"action": NUL}, "filter.action"),
        ({"targetType": "account", "targetId": NUL}, "filter.targetId"),
    ],
)
async def test_an_audit_filter_out_of_range_or_with_a_nul_is_bad_user_input(
    gql: GraphQLClient, services: Services, audit_filter: dict[str, str], argument: str
) -> None:
    auditor = await make_staff(gql, services, "auditor", "AUDITOR")

    extensions = await bad_user_input(gql, AUDIT_LOG, {"filter": audit_filter}, auditor.token)

    assert extensions["argument"] == argument


async def test_the_widest_audit_filter_in_utc_is_fine(
    gql: GraphQLClient, services: Services
) -> None:
    auditor = await make_staff(gql, services, "auditor", "AUDITOR")

    data = await gql.execute(
        AUDIT_LOG,
        {"filter": {"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"}},
        token=auditor.token,
    )

    assert data["auditLog"]["edges"] != []


@pytest.mark.parametrize(
    ("audit_filter", "code", "field"),
    [
        ({"since": "0001-01-01T00:00:00+14:00"}, "INVALID_FILTER", "since"),
        ({"action": NUL}, "INVALID_INPUT", "action"),
    ],
)
async def test_an_export_filter_out_of_range_or_with_a_nul_is_a_typed_error(
    gql: GraphQLClient, services: Services, audit_filter: dict[str, str], code: str, field: str
) -> None:
    auditor = await make_staff(gql, services, "auditor", "AUDITOR")

    result = await typed_error(
        gql,
        MUTATION % ("ExportAuditLogInput", "exportAuditLog"),
        {"input": {"format": "CSV", "reason": "quarterly review", "filter": audit_filter}},
        auditor.token,
    )

    assert result == {"__typename": "ValidationError", "code": code, "field": field}


async def test_statistics_at_the_ends_of_the_calendar(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")

    last = await bad_user_input(
        gql, STATISTICS, {"first": "9999-12-30", "last": "9999-12-31"}, admin.token
    )
    latest = await gql.execute(
        STATISTICS, {"first": "9999-12-29", "last": "9999-12-30"}, token=admin.token
    )
    earliest = await gql.execute(
        STATISTICS, {"first": "0001-01-01", "last": "0001-01-02"}, token=admin.token
    )

    assert last["argument"] == "lastDay"
    assert [d["day"] for d in latest["platformStatistics"]] == ["9999-12-29", "9999-12-30"]
    assert [d["signUps"] for d in earliest["platformStatistics"]] == [0, 0]
