"""Strikes as their owners and staff see them, and one appeal per strike."""

from __future__ import annotations

from typing import Any

import pytest

from app.runtime import Services
from tests.support.accounts import User, sign_up
from tests.support.audit import audit_entries
from tests.support.graphql import GraphQLClient
from tests.support.moderation import (
    APPEAL,
    DECIDE_APPEAL,
    STRIKE_FIELDS,
    act,
    hidden_post_strike,
)
from tests.support.staff import Staff, make_staff

STRIKES = (
    "query ($id: ID!) { node(id: $id) { ... on Account { strikes(first: 10) { edges { node { "
    + STRIKE_FIELDS
    + " } } } } } }"
)
MY_STRIKES = "{ viewer { strikes(first: 10) { edges { node { " + STRIKE_FIELDS + " } } } } }"
STAFF_REASON = "{ viewer { strikes(first: 10) { edges { node { staffReason } } } } }"
STATUS = """
query ($id: ID!) { node(id: $id) { ... on Account {
  moderationStatus { suspended suspendedUntil limited strikesInForce openCases }
  strikes(first: 10) { edges { node { staffReason } } } } } }
"""
APPEALS = """
query ($status: AppealStatus) {
  moderationAppeals(first: 10, status: $status) { edges { node { id appeal { note status } } } }
}
"""
POST = "query ($id: ID!) { post(id: $id) { id hidden } }"


async def _struck(gql: GraphQLClient, services: Services) -> tuple[Staff, User, str, str]:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    member = await sign_up(gql, "member")
    post_id, strike_id = await hidden_post_strike(gql, moderator, member)
    return moderator, member, post_id, strike_id


def nodes(data: dict[str, Any]) -> list[dict[str, Any]]:
    (root,) = data.values()
    strikes = root["strikes"]
    if strikes is None:
        return []
    return [e["node"] for e in strikes["edges"]]


async def test_the_owner_sees_their_strike_and_its_post_others_do_not(
    gql: GraphQLClient, services: Services
) -> None:
    _, member, post_id, strike_id = await _struck(gql, services)
    stranger = await sign_up(gql, "stranger")

    own = await gql.execute(MY_STRIKES, token=member.token)
    by_stranger = await gql.execute(STRIKES, {"id": member.id}, token=stranger.token)
    anonymous = await gql.execute(STRIKES, {"id": member.id})
    staff_reason = await gql.post(STAFF_REASON, token=member.token)

    [strike] = nodes(own)
    assert strike["id"] == strike_id
    assert strike["action"] == "HIDE_POST"
    assert strike["reason"] == "A breach of the community rules."
    assert strike["canAppeal"] is True
    assert strike["post"] == {"id": post_id, "hidden": True, "sensitive": False}
    assert by_stranger["node"]["strikes"] is None
    assert anonymous["node"]["strikes"] is None
    assert staff_reason.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_support_staff_read_strikes_and_standing(
    gql: GraphQLClient, services: Services
) -> None:
    _, member, _, _ = await _struck(gql, services)
    support = await make_staff(gql, services, "helper", "SUPPORT")
    plain = await sign_up(gql, "plain")

    data = await gql.execute(STATUS, {"id": member.id}, token=support.token)
    refused = await gql.post(STATUS, {"id": member.id}, token=plain.token)

    assert data["node"]["moderationStatus"] == {
        "suspended": False,
        "suspendedUntil": None,
        "limited": False,
        "strikesInForce": 1,
        "openCases": 0,
    }
    assert data["node"]["strikes"]["edges"][0]["node"] == {"staffReason": "arranged for a test"}
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_strike_is_appealed_once_by_its_owner_only(
    gql: GraphQLClient, services: Services
) -> None:
    moderator, member, _, strike_id = await _struck(gql, services)
    stranger = await sign_up(gql, "stranger")

    empty = await act(gql, APPEAL, member, strikeId=strike_id, note=" ")
    not_theirs = await act(gql, APPEAL, stranger, strikeId=strike_id, note="me too")
    appealed = await act(gql, APPEAL, member, strikeId=strike_id, note="it was a joke")
    twice = await act(gql, APPEAL, member, strikeId=strike_id, note="really")
    pending = await gql.execute(APPEALS, token=moderator.token)

    assert (empty["code"], empty["field"]) == ("NOTE_REQUIRED", "note")
    assert (not_theirs["code"], not_theirs["field"]) == ("NOT_FOUND", "strikeId")
    assert appealed["strike"]["appeal"] == {
        "note": "it was a joke",
        "status": "PENDING",
        "message": "",
        "decidedAt": None,
    }
    assert appealed["strike"]["canAppeal"] is False
    assert twice["code"] == "ALREADY_APPEALED"
    assert pending["moderationAppeals"]["edges"] == [
        {"node": {"id": strike_id, "appeal": {"note": "it was a joke", "status": "PENDING"}}}
    ]


async def test_upholding_keeps_the_action_overturning_lifts_it(
    gql: GraphQLClient, services: Services
) -> None:
    moderator, member, post_id, strike_id = await _struck(gql, services)
    _, other_strike = await hidden_post_strike(gql, moderator, member)
    for strike in (strike_id, other_strike):
        await act(gql, APPEAL, member, strikeId=strike, note="please look again")

    upheld = await act(
        gql, DECIDE_APPEAL, moderator, strikeId=other_strike, decision="UPHOLD", reason="stands"
    )
    overturned = await act(
        gql,
        DECIDE_APPEAL,
        moderator,
        strikeId=strike_id,
        decision="OVERTURN",
        reason="context makes it fine",
        message="Sorry, we got this one wrong.",
    )
    again = await act(
        gql, DECIDE_APPEAL, moderator, strikeId=strike_id, decision="UPHOLD", reason="changed"
    )
    visible = await gql.execute(POST, {"id": post_id})

    assert upheld["strike"]["status"] == "IN_FORCE"
    assert upheld["strike"]["appeal"]["status"] == "UPHELD"
    assert overturned["strike"]["status"] == "OVERTURNED"
    assert overturned["strike"]["appeal"]["message"] == "Sorry, we got this one wrong."
    assert again["code"] == "APPEAL_ALREADY_DECIDED"
    assert visible["post"] == {"id": post_id, "hidden": False}
    [entry] = await audit_entries(services, "moderation.appeal.overturn")
    assert (entry.reason, entry.before, entry.after) == (
        "context makes it fine",
        {"appeal": "PENDING", "strike": "IN_FORCE"},
        {"appeal": "OVERTURNED", "strike": "OVERTURNED"},
    )
    refused = [
        e.outcome
        for e in await audit_entries(services, "moderation.appeal.uphold")
        if e.outcome != "ok"
    ]
    assert refused == ["refused:APPEAL_ALREADY_DECIDED"]


async def test_deciding_needs_an_appeal_a_reason_and_a_lower_rank(
    gql: GraphQLClient, services: Services
) -> None:
    moderator, member, _, strike_id = await _struck(gql, services)
    admin = await make_staff(gql, services, "boss", "ADMIN")
    _, admin_strike = await hidden_post_strike(gql, admin, moderator)
    await act(gql, APPEAL, moderator, strikeId=admin_strike, note="I was right")

    no_appeal = await act(
        gql, DECIDE_APPEAL, moderator, strikeId=strike_id, decision="UPHOLD", reason="fine"
    )
    await act(gql, APPEAL, member, strikeId=strike_id, note="why")
    no_reason = await act(
        gql, DECIDE_APPEAL, moderator, strikeId=strike_id, decision="UPHOLD", reason=""
    )
    own = await act(
        gql, DECIDE_APPEAL, moderator, strikeId=admin_strike, decision="OVERTURN", reason="mine"
    )

    assert (no_appeal["code"], no_appeal["field"]) == ("NOT_FOUND", "strikeId")
    assert (no_reason["code"], no_reason["field"]) == ("REASON_REQUIRED", "reason")
    assert own["code"] == "CANNOT_MODERATE_SELF"


@pytest.mark.parametrize("role", [None, "SUPPORT"])
async def test_deciding_appeals_without_permission_is_forbidden(
    gql: GraphQLClient, services: Services, role: str | None
) -> None:
    _, member, _, strike_id = await _struck(gql, services)
    await act(gql, APPEAL, member, strikeId=strike_id, note="why")
    viewer: User = (
        await sign_up(gql, "someone")
        if role is None
        else await make_staff(gql, services, "staffer", role)
    )
    decide = {"strikeId": strike_id, "decision": "OVERTURN", "reason": "I say so"}

    errors = await gql.errors(DECIDE_APPEAL, {"input": decide}, token=viewer.token)
    listing = await gql.errors(APPEALS, token=viewer.token)

    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert listing[0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_appeal_names_a_strike_by_its_own_id(
    gql: GraphQLClient, services: Services
) -> None:
    _, member, post_id, _ = await _struck(gql, services)

    result = await act(gql, APPEAL, member, strikeId=post_id, note="wrong kind of id")

    assert (result["code"], result["field"]) == ("INVALID_ID", "strikeId")
