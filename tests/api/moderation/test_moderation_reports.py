"""Reporting posts and accounts, and the moderation queue built from the reports."""

from __future__ import annotations

from typing import Any

import pytest

from app.runtime import Services
from resolvers.paging import parse_global_id
from tests.support.accounts import User, follow, post, sign_up
from tests.support.audit import audit_entries, events_of
from tests.support.graphql import GraphQLClient
from tests.support.moderation import HIDE_POST, REPORT_ACCOUNT, act, case_id_of, report_post
from tests.support.staff import make_staff

QUEUE = """
query Queue($first: Int!, $after: String, $status: ModerationCaseStatus, $assignment: QueueAssignment) {
  moderationQueue(first: $first, after: $after, status: $status, assignment: $assignment) {
    edges { cursor node { id target status priority reportCount post { id } account { handle } assignee { handle } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
CASE = """
query Case($id: ID!) {
  moderationCase(id: $id) {
    id target status priority reportCount closedAt
    account { handle }
    post { id body visibility hidden }
    reports(first: 10) { edges { node { category note reporter { handle } } } }
    notes(first: 10) { edges { node { body author { handle } } } }
  }
}
"""


def key(gid: str) -> int:
    return parse_global_id(gid, expect=None, field="id")[1]


async def test_reporting_a_post_twice_is_idempotent_and_records_one_event(
    gql: GraphQLClient, services: Services
) -> None:
    author = await sign_up(gql, "author")
    reporter = await sign_up(gql, "reporter")
    other = await sign_up(gql, "other")
    post_id = await post(gql, author, "buy my pills")

    first = await report_post(gql, reporter, post_id, "SPAM", note="obvious spam")
    again = await report_post(gql, reporter, post_id, "HATE", note="changed my mind")
    await report_post(gql, other, post_id, "SPAM")

    assert first["__typename"] == "ReportPayload"
    assert first["report"]["category"] == "SPAM"
    assert first["report"]["reporter"] == {"handle": "reporter"}
    assert again["report"] == first["report"]
    events = await events_of(services, "post.reported")
    assert [e["category"] for e in events] == ["SPAM", "SPAM"]
    assert events[0]["post_id"] == key(post_id)
    assert events[0]["author_id"] == key(author.id)
    assert {"report_id", "case_id"} <= events[0].keys()


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("followers_only", "NOT_FOUND", "postId"),
        ("own_post", "CANNOT_TARGET_SELF", None),
        ("long_note", "NOTE_TOO_LONG", "note"),
        ("bad_id", "INVALID_ID", "postId"),
    ],
)
async def test_reporting_a_post_refuses_bad_targets(
    gql: GraphQLClient, case: str, code: str, field: str | None
) -> None:
    author = await sign_up(gql, "author")
    reporter = await sign_up(gql, "reporter")
    extra: dict[str, Any] = {}
    if case == "followers_only":
        post_id = await post(gql, author, "for my followers", visibility="FOLLOWERS")
    else:
        post_id = await post(gql, author, "hello")
    who = author if case == "own_post" else reporter
    if case == "long_note":
        extra["note"] = "x" * 1001
    if case == "bad_id":
        post_id = author.id  # an account id where a post id belongs

    result = await report_post(gql, who, post_id, **extra)

    assert (result["code"], result["field"]) == (code, field)


async def test_reporting_needs_a_signed_in_viewer(gql: GraphQLClient) -> None:
    author = await sign_up(gql, "author")
    post_id = await post(gql, author, "hello")

    errors = await gql.errors(
        "mutation ($id: ID!) { reportPost(input: {postId: $id, category: SPAM}) { __typename } }",
        {"id": post_id},
    )

    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_reporting_an_account_opens_a_case_at_the_category_priority(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    troll = await sign_up(gql, "troll")
    reporter = await sign_up(gql, "reporter")

    data = await gql.execute(
        REPORT_ACCOUNT,
        {"input": {"accountId": troll.id, "category": "VIOLENCE", "note": "threats in DMs"}},
        token=reporter.token,
    )
    own = await gql.execute(
        REPORT_ACCOUNT, {"input": {"accountId": troll.id, "category": "SPAM"}}, token=troll.token
    )
    case = await gql.execute(
        CASE, {"id": await case_id_of(services, troll.id)}, token=moderator.token
    )

    assert data["reportAccount"]["__typename"] == "ReportPayload"
    assert own["reportAccount"]["code"] == "CANNOT_TARGET_SELF"
    assert case["moderationCase"]["target"] == "ACCOUNT"
    assert case["moderationCase"]["priority"] == "HIGH"
    assert case["moderationCase"]["account"] == {"handle": "troll"}
    assert case["moderationCase"]["post"] is None
    assert case["moderationCase"]["reports"]["edges"][0]["node"] == {
        "category": "VIOLENCE",
        "note": "threats in DMs",
        "reporter": {"handle": "reporter"},
    }
    [event] = await events_of(services, "account.reported")
    assert (event["account_id"], event["category"]) == (key(troll.id), "VIOLENCE")


async def test_the_queue_is_ordered_by_priority_then_age_and_pages_by_cursor(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    author = await sign_up(gql, "author")
    reporter = await sign_up(gql, "reporter")
    posts = [await post(gql, author, f"post {n}") for n in range(3)]
    await report_post(gql, reporter, posts[0], "SPAM")
    await report_post(gql, reporter, posts[1], "SPAM")
    await report_post(gql, reporter, posts[2], "ILLEGAL")

    pages: list[dict[str, Any]] = []
    after = None
    for _ in range(3):
        data = await gql.execute(QUEUE, {"first": 1, "after": after}, token=moderator.token)
        pages.append(data["moderationQueue"])
        after = data["moderationQueue"]["pageInfo"]["endCursor"]

    order = [page["edges"][0]["node"]["post"]["id"] for page in pages]
    assert order == [posts[2], posts[0], posts[1]]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
    assert pages[0]["edges"][0]["node"]["priority"] == "HIGH"


async def test_the_queue_filters_by_assignment_and_status(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    author = await sign_up(gql, "author")
    reporter = await sign_up(gql, "reporter")
    mine, theirs = await post(gql, author, "one"), await post(gql, author, "two")
    await report_post(gql, reporter, mine)
    await report_post(gql, reporter, theirs)
    assign = "mutation ($i: AssignModerationCaseInput!) { assignModerationCase(input: $i) { __typename } }"
    assigned = await gql.execute(
        assign,
        {"i": {"caseId": await case_id_of(services, mine), "reason": "taking it"}},
        token=moderator.token,
    )
    assert assigned["assignModerationCase"]["__typename"] == "ModerationCasePayload"

    def ids(data: dict[str, Any]) -> list[str]:
        return [e["node"]["post"]["id"] for e in data["moderationQueue"]["edges"]]

    to_me = await gql.execute(
        QUEUE, {"first": 10, "assignment": "ASSIGNED_TO_ME"}, token=moderator.token
    )
    unassigned = await gql.execute(
        QUEUE, {"first": 10, "assignment": "UNASSIGNED"}, token=moderator.token
    )
    dismissed = await gql.execute(
        QUEUE, {"first": 10, "status": "DISMISSED"}, token=moderator.token
    )

    assert ids(to_me) == [mine]
    assert to_me["moderationQueue"]["edges"][0]["node"]["assignee"] == {"handle": "mod"}
    assert ids(unassigned) == [theirs]
    assert ids(dismissed) == []


@pytest.mark.parametrize("role", [None, "SUPPORT", "AUDITOR"])
async def test_the_queue_without_permission_is_forbidden(
    gql: GraphQLClient, services: Services, role: str | None
) -> None:
    viewer: User = (
        await sign_up(gql, "someone")
        if role is None
        else await make_staff(gql, services, "staffer", role)
    )

    errors = await gql.errors(QUEUE, {"first": 5}, token=viewer.token)

    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_staff_read_of_a_followers_only_post_is_audited(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    author = await sign_up(gql, "author")
    follower = await sign_up(gql, "follower")
    await follow(gql, follower, author)
    post_id = await post(gql, author, "just for friends", visibility="FOLLOWERS")
    await report_post(gql, follower, post_id, "HARASSMENT")

    data = await gql.execute(
        CASE, {"id": await case_id_of(services, post_id)}, token=moderator.token
    )

    assert data["moderationCase"]["post"]["body"] == "just for friends"
    [entry] = await audit_entries(services, "read.post")
    assert (entry.actor_handle, entry.target_type, entry.target_id) == (
        "mod",
        "post",
        str(key(post_id)),
    )


async def test_a_staff_read_of_a_hidden_public_post_is_audited_a_visible_one_is_not(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    colleague = await make_staff(gql, services, "colleague", "MODERATOR")
    author = await sign_up(gql, "author")
    reporter = await sign_up(gql, "reporter")
    shown, hidden = await post(gql, author, "fine"), await post(gql, author, "not fine")
    await report_post(gql, reporter, shown)
    await report_post(gql, reporter, hidden)
    await act(gql, HIDE_POST, moderator, postId=hidden, reason="rule 3")
    earlier = len(await audit_entries(services))  # hidePost shows the hidden post: audited

    visible_case = await gql.execute(
        CASE, {"id": await case_id_of(services, shown)}, token=colleague.token
    )
    assert len(await audit_entries(services)) == earlier
    hidden_case = await gql.execute(
        CASE, {"id": await case_id_of(services, hidden)}, token=colleague.token
    )

    assert visible_case["moderationCase"]["post"]["hidden"] is False
    assert hidden_case["moderationCase"]["post"] == {
        "id": hidden,
        "body": "not fine",
        "visibility": "PUBLIC",
        "hidden": True,
    }
    [entry] = (await audit_entries(services))[earlier:]
    assert (entry.action, entry.actor_handle, entry.target_type, entry.target_id) == (
        "read.post",
        "colleague",
        "post",
        str(key(hidden)),
    )
