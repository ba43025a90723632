"""Working a case: assign, note, priority, dismiss; each audited, each refused when it must."""

from __future__ import annotations

from typing import Any

import pytest

from app.runtime import Services
from resolvers.paging import parse_global_id
from tests.support.accounts import User, post, sign_up
from tests.support.audit import audit_entries
from tests.support.graphql import GraphQLClient
from tests.support.moderation import case_id_of, report_post
from tests.support.staff import Staff, make_staff

CASE_RESULT = """
    __typename
    ... on ModerationCasePayload {
      moderationCase { status priority closedAt assignee { handle }
        notes(first: 10) { edges { node { body author { handle } } } } }
    }
    ... on UserError { code field message }
"""
ASSIGN = "mutation ($i: AssignModerationCaseInput!) { assignModerationCase(input: $i) { %s } }"
NOTE = "mutation ($i: AddModerationNoteInput!) { addModerationNote(input: $i) { %s } }"
PRIORITY = "mutation ($i: SetModerationPriorityInput!) { setModerationPriority(input: $i) { %s } }"
DISMISS = "mutation ($i: DismissModerationCaseInput!) { dismissModerationCase(input: $i) { %s } }"


async def _arrange(gql: GraphQLClient, services: Services) -> tuple[Staff, User, str]:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    author = await sign_up(gql, "author")
    reporter = await sign_up(gql, "reporter")
    post_id = await post(gql, author, "questionable")
    await report_post(gql, reporter, post_id)
    return moderator, author, await case_id_of(services, post_id)


async def _run(gql: GraphQLClient, doc: str, staff: User, **input: Any) -> dict[str, Any]:
    data = await gql.execute(doc % CASE_RESULT, {"i": input}, token=staff.token)
    (result,) = data.values()
    assert isinstance(result, dict)
    return result


async def test_assign_note_priority_and_dismiss_are_audited(
    gql: GraphQLClient, services: Services
) -> None:
    moderator, _, case_id = await _arrange(gql, services)
    colleague = await make_staff(gql, services, "colleague", "MODERATOR")

    assigned = await _run(
        gql,
        ASSIGN,
        moderator,
        caseId=case_id,
        assigneeId=colleague.id,
        reason="knows the account",
        note="yours",
    )
    noted = await _run(gql, NOTE, moderator, caseId=case_id, body="looked at the history")
    raised = await _run(
        gql, PRIORITY, moderator, caseId=case_id, priority="URGENT", reason="threats"
    )
    dismissed = await _run(gql, DISMISS, moderator, caseId=case_id, reason="satire, allowed")

    assert assigned["moderationCase"]["assignee"] == {"handle": "colleague"}
    assert raised["moderationCase"]["priority"] == "URGENT"
    assert [e["node"] for e in noted["moderationCase"]["notes"]["edges"]] == [
        {"body": "yours", "author": {"handle": "mod"}},
        {"body": "looked at the history", "author": {"handle": "mod"}},
    ]
    assert dismissed["moderationCase"]["status"] == "DISMISSED"
    assert dismissed["moderationCase"]["closedAt"] is not None
    [assign] = await audit_entries(services, "moderation.case.assign")
    colleague_key = parse_global_id(colleague.id, expect="Account", field="id")[1]
    assert (assign.reason, assign.before, assign.after) == (
        "knows the account",
        {"assignee_id": None},
        {"assignee_id": colleague_key},
    )
    [note] = await audit_entries(services, "moderation.case.note")
    assert note.reason == "looked at the history"
    [priority] = await audit_entries(services, "moderation.case.priority")
    assert (priority.reason, priority.before, priority.after) == (
        "threats",
        {"priority": "NORMAL"},
        {"priority": "URGENT"},
    )
    [dismiss] = await audit_entries(services, "moderation.case.dismiss")
    assert (dismiss.reason, dismiss.outcome, dismiss.after) == (
        "satire, allowed",
        "ok",
        {"status": "DISMISSED"},
    )


async def test_a_closed_case_refuses_changes_but_takes_notes(
    gql: GraphQLClient, services: Services
) -> None:
    moderator, _, case_id = await _arrange(gql, services)
    await _run(gql, DISMISS, moderator, caseId=case_id, reason="nothing wrong")

    assign = await _run(gql, ASSIGN, moderator, caseId=case_id, reason="taking it")
    again = await _run(gql, DISMISS, moderator, caseId=case_id, reason="nothing wrong")
    note = await _run(gql, NOTE, moderator, caseId=case_id, body="for the record")

    assert assign["code"] == again["code"] == "CASE_CLOSED"
    assert note["__typename"] == "ModerationCasePayload"


@pytest.mark.parametrize(
    ("doc", "input", "code", "field"),
    [
        (DISMISS, {"reason": " "}, "REASON_REQUIRED", "reason"),
        (PRIORITY, {"priority": "LOW", "reason": ""}, "REASON_REQUIRED", "reason"),
        (PRIORITY, {"priority": "LOW", "reason": "  "}, "REASON_REQUIRED", "reason"),
        (ASSIGN, {"reason": ""}, "REASON_REQUIRED", "reason"),
        (ASSIGN, {"note": "a note is not a reason", "reason": "x"}, "REASON_REQUIRED", "reason"),
        (NOTE, {"body": ""}, "NOTE_REQUIRED", "body"),
        (NOTE, {"body": "x" * 2001}, "NOTE_TOO_LONG", "body"),
        (ASSIGN, {"assigneeId": "plain", "reason": "why not"}, "INVALID_ASSIGNEE", "assigneeId"),
        (
            ASSIGN,
            {"caseId": "TW9kZXJhdGlvbkNhc2U6OTk5OTk=", "reason": "why not"},
            "NOT_FOUND",
            "caseId",
        ),
        (
            PRIORITY,
            {"caseId": "nonsense", "priority": "LOW", "reason": "why"},
            "INVALID_ID",
            "caseId",
        ),
    ],
)
async def test_bad_case_input_is_a_typed_error_and_the_refusal_is_audited(
    gql: GraphQLClient,
    services: Services,
    doc: str,
    input: dict[str, Any],
    code: str,
    field: str,
) -> None:
    moderator, _, case_id = await _arrange(gql, services)
    if input.get("assigneeId") == "plain":
        input = {**input, "assigneeId": (await sign_up(gql, "plain")).id}

    result = await _run(gql, doc, moderator, **{"caseId": case_id, **input})

    assert (result["code"], result["field"]) == (code, field)
    if code != "INVALID_ID":  # a malformed id never reaches the staff transaction
        refused = [
            e
            for action in ("assign", "note", "priority", "dismiss")
            for e in await audit_entries(services, f"moderation.case.{action}")
        ]
        assert [e.outcome for e in refused] == [f"refused:{code}"]


WORK_ON_A_CASE = [
    pytest.param(DISMISS, {"reason": "not me, surely"}, id="dismiss"),
    pytest.param(ASSIGN, {"reason": "I will take it"}, id="assign"),
    pytest.param(NOTE, {"body": "nothing to see here"}, id="note"),
    pytest.param(PRIORITY, {"priority": "LOW", "reason": "not urgent"}, id="priority"),
]


async def _case_about(gql: GraphQLClient, services: Services, account: User) -> str:
    reporter = await sign_up(gql, "reporter")
    await gql.execute(
        "mutation ($id: ID!) { reportAccount(input: {accountId: $id, category: OTHER}) { __typename } }",
        {"id": account.id},
        token=reporter.token,
    )
    return await case_id_of(services, account.id)


@pytest.mark.parametrize(("doc", "input"), WORK_ON_A_CASE)
async def test_nobody_works_a_case_about_themselves(
    gql: GraphQLClient, services: Services, doc: str, input: dict[str, Any]
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    case_id = await _case_about(gql, services, moderator)

    result = await _run(gql, doc, moderator, caseId=case_id, **input)
    case = await gql.execute(
        "query ($id: ID!) { moderationCase(id: $id) { status priority assignee { handle } "
        "notes(first: 5) { edges { node { body } } } } }",
        {"id": case_id},
        token=(await make_staff(gql, services, "colleague", "MODERATOR")).token,
    )

    assert result["code"] == "CANNOT_MODERATE_SELF"
    assert case["moderationCase"] == {
        "status": "OPEN",
        "priority": "NORMAL",
        "assignee": None,
        "notes": {"edges": []},
    }
    [refused] = [
        e
        for action in ("assign", "note", "priority", "dismiss")
        for e in await audit_entries(services, f"moderation.case.{action}")
    ]
    assert (refused.actor_handle, refused.outcome) == ("mod", "refused:CANNOT_MODERATE_SELF")


@pytest.mark.parametrize(("doc", "input"), WORK_ON_A_CASE)
async def test_a_moderator_works_no_case_about_an_admin(
    gql: GraphQLClient, services: Services, doc: str, input: dict[str, Any]
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    admin = await make_staff(gql, services, "boss", "ADMIN")
    case_id = await _case_about(gql, services, admin)

    result = await _run(gql, doc, moderator, caseId=case_id, **input)

    assert result["code"] == "TARGET_OUTRANKS_ACTOR"
    refused = [
        e
        for action in ("assign", "note", "priority", "dismiss")
        for e in await audit_entries(services, f"moderation.case.{action}")
    ]
    assert [e.outcome for e in refused] == ["refused:TARGET_OUTRANKS_ACTOR"]


async def test_a_case_goes_to_nobody_it_is_about_or_who_is_outranked(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    other_admin = await make_staff(gql, services, "chief", "ADMIN")
    about_moderator = await _case_about(gql, services, moderator)
    reporter = await sign_up(gql, "another_reporter")
    await gql.execute(
        "mutation ($id: ID!) { reportAccount(input: {accountId: $id, category: OTHER}) { __typename } }",
        {"id": other_admin.id},
        token=reporter.token,
    )
    about_admin = await case_id_of(services, other_admin.id)

    to_itself = await _run(
        gql, ASSIGN, admin, caseId=about_moderator, assigneeId=moderator.id, reason="yours"
    )
    outranked = await _run(
        gql, ASSIGN, admin, caseId=about_admin, assigneeId=moderator.id, reason="yours"
    )
    to_a_peer = await _run(
        gql, ASSIGN, admin, caseId=about_moderator, assigneeId=other_admin.id, reason="yours"
    )

    assert to_itself["code"] == outranked["code"] == "INVALID_ASSIGNEE"
    assert to_a_peer["moderationCase"]["assignee"] == {"handle": "chief"}


@pytest.mark.parametrize("role", [None, "SUPPORT"])
async def test_case_mutations_without_permission_are_forbidden(
    gql: GraphQLClient, services: Services, role: str | None
) -> None:
    _, _, case_id = await _arrange(gql, services)
    viewer: User = (
        await sign_up(gql, "someone")
        if role is None
        else await make_staff(gql, services, "staffer", role)
    )

    for doc, extra in (
        (ASSIGN, {"reason": "mine"}),
        (NOTE, {"body": "hi"}),
        (PRIORITY, {"priority": "LOW", "reason": "mine"}),
        (DISMISS, {"reason": "no"}),
    ):
        errors = await gql.errors(
            doc % "__typename", {"i": {"caseId": case_id, **extra}}, token=viewer.token
        )
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
