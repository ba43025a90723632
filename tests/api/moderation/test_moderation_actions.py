"""Hide, mark sensitive, limit, suspend and lift: what each does to what people see, its
strike, its audit entry, and the abuse of power each refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.runtime import Services
from app.settings import Settings
from resolvers.paging import parse_global_id
from tests.conftest import make_settings
from tests.support.accounts import PASSWORD, User, follow, post, sign_up
from tests.support.audit import audit_entries, events_of
from tests.support.backends import Database
from tests.support.graphql import GraphQLClient
from tests.support.moderation import (
    APPEAL,
    DECIDE_APPEAL,
    HIDE_POST,
    LIFT,
    LIMIT_ACCOUNT,
    MARK_SENSITIVE,
    SUSPEND_ACCOUNT,
    act,
    case_id_of,
    report_post,
    run_out_suspension,
)
from tests.support.staff import make_staff

POST = "query ($id: ID!) { post(id: $id) { id hidden sensitive } }"
HOME = "{ homeTimeline(first: 20) { edges { node { id hidden } } } }"
FEED = "{ publicFeed(first: 20) { edges { node { id } } } }"
CASE_STATUS = "query ($id: ID!) { moderationCase(id: $id) { status } }"
LOG_IN = """
mutation ($input: LogInInput!) {
  logIn(input: $input) { __typename ... on UserError { code message } }
}
"""
LOG_IN_TOKEN = """
mutation ($input: LogInInput!) {
  logIn(input: $input) { __typename ... on SessionPayload { token } }
}
"""
VIEWER = "{ viewer { handle } }"
STANDING = """
query ($id: ID!) { node(id: $id) { ... on Account {
  moderationStatus { suspended suspendedUntil }
  strikes(first: 10) { edges { node { id status liftedAt } } } } } }
"""


@pytest.fixture
def settings(database: Database) -> Settings:
    """No periodic sweep during these tests: the ones about expiry run it themselves, at the
    moment they choose, after moving a suspension's end into the past."""
    return make_settings(database, moderation_sweep_interval=3600.0)


def ids(data: dict[str, Any], field: str) -> list[str]:
    return [e["node"]["id"] for e in data[field]["edges"]]


async def test_a_hidden_post_is_gone_for_everyone_but_its_author(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    author = await sign_up(gql, "author")
    follower = await sign_up(gql, "follower")
    await follow(gql, follower, author)
    post_id = await post(gql, author, "over the line")
    await report_post(gql, follower, post_id, "HATE")
    case_id = await case_id_of(services, post_id)

    hidden = await act(gql, HIDE_POST, moderator, postId=post_id, reason="slur", category="HATE")
    follower_home = await gql.execute(HOME, token=follower.token)
    author_home = await gql.execute(HOME, token=author.token)
    anonymous = await gql.execute(POST, {"id": post_id})
    feed = await gql.execute(FEED, token=follower.token)
    by_author = await gql.execute(POST, {"id": post_id}, token=author.token)
    case = await gql.execute(CASE_STATUS, {"id": case_id}, token=moderator.token)

    strike = hidden["strike"]
    assert (strike["action"], strike["status"], strike["category"]) == (
        "HIDE_POST",
        "IN_FORCE",
        "HATE",
    )
    assert strike["reason"] == "Hateful conduct."  # no public reason: the category explains
    assert ids(follower_home, "homeTimeline") == []
    assert author_home["homeTimeline"]["edges"][0]["node"] == {"id": post_id, "hidden": True}
    assert anonymous["post"] is None
    assert ids(feed, "publicFeed") == []
    assert by_author["post"]["hidden"] is True
    assert case["moderationCase"]["status"] == "ACTIONED"
    [entry] = await audit_entries(services, "moderation.hide_post")
    assert (entry.reason, entry.before) == ("slur", {"in_force": False})
    assert entry.after is not None and entry.after["in_force"] is True
    assert len(await events_of(services, "strike.issued")) == 1


async def test_lifting_brings_a_post_back_once(gql: GraphQLClient, services: Services) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    author = await sign_up(gql, "author")
    post_id = await post(gql, author, "misunderstood")
    strike = (await act(gql, HIDE_POST, moderator, postId=post_id, reason="looked bad"))["strike"]

    lifted = await act(gql, LIFT, moderator, strikeId=strike["id"], reason="context given")
    again = await act(gql, LIFT, moderator, strikeId=strike["id"], reason="context given")
    visible = await gql.execute(POST, {"id": post_id})

    assert lifted["strike"]["status"] == "LIFTED"
    assert lifted["strike"]["liftedAt"] is not None
    assert again["code"] == "ACTION_NOT_IN_FORCE"
    assert visible["post"] == {"id": post_id, "hidden": False, "sensitive": False}
    [entry] = [e for e in await audit_entries(services, "moderation.lift") if e.outcome == "ok"]
    assert (entry.reason, entry.after) == (
        "context given",
        {"action": "HIDE_POST", "in_force": False},
    )


async def test_a_sensitive_post_stays_visible_and_says_so(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    author = await sign_up(gql, "author")
    post_id = await post(gql, author, "graphic photo")

    marked = await act(
        gql, MARK_SENSITIVE, moderator, postId=post_id, reason="gore", publicReason="Graphic."
    )
    twice = await act(gql, MARK_SENSITIVE, moderator, postId=post_id, reason="gore")
    seen = await gql.execute(POST, {"id": post_id})

    assert marked["strike"]["reason"] == "Graphic."
    assert twice["code"] == "ACTION_ALREADY_IN_FORCE"
    assert seen["post"] == {"id": post_id, "hidden": False, "sensitive": True}


async def test_suspension_ends_sessions_and_refuses_log_in_until_lifted(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    member = await sign_up(gql, "member")

    suspended = await act(
        gql, SUSPEND_ACCOUNT, moderator, accountId=member.id, reason="ban evasion"
    )
    old_token = await gql.post(VIEWER, token=member.token)
    log_in = await gql.execute(LOG_IN, {"input": {"login": "member", "password": PASSWORD}})
    wrong = await gql.execute(LOG_IN, {"input": {"login": "member", "password": "wrong-wrong"}})
    lifted = await act(
        gql, LIFT, moderator, strikeId=suspended["strike"]["id"], reason="appeal by email"
    )
    after_lift = await gql.execute(LOG_IN, {"input": {"login": "member", "password": PASSWORD}})

    assert suspended["strike"]["expiresAt"] is None
    assert old_token.status_code == 401
    assert log_in["logIn"]["__typename"] == "AuthenticationError"
    assert log_in["logIn"]["code"] == "ACCOUNT_SUSPENDED"
    assert "until further notice" in log_in["logIn"]["message"]
    assert wrong["logIn"]["code"] == "INVALID_CREDENTIALS"  # no hint without the password
    assert lifted["strike"]["status"] == "LIFTED"
    assert after_lift["logIn"]["__typename"] == "SessionPayload"
    _, member_id = parse_global_id(member.id, expect="Account", field="id")
    changes = await events_of(services, "credentials.changed")
    kinds = [
        (c["account_id"], c["kind"], len(c.get("session_ids", [])))
        for c in changes
        if c["account_id"] == member_id
    ]
    # The suspension ends the one session and changes the account's credentials; so does
    # the lift (no sessions to end then).
    assert kinds == [
        (member_id, "session", 1),
        (member_id, "suspension", 0),
        (member_id, "suspension", 0),
    ]
    [event] = await events_of(services, "account.suspended")
    assert event["until"] is None
    [entry] = await audit_entries(services, "moderation.suspend_account")
    assert entry.reason == "ban evasion" and entry.target_type == "account"


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("no_reason", "REASON_REQUIRED", "reason"),
        ("unknown_post", "NOT_FOUND", "postId"),
        ("own_post", "CANNOT_MODERATE_SELF", None),
        ("admin_post", "TARGET_OUTRANKS_ACTOR", None),
        ("long_public_reason", "NOTE_TOO_LONG", "publicReason"),
        ("someone_elses_case", "NOT_FOUND", "caseId"),
    ],
)
async def test_refused_post_actions_are_typed_errors_and_audited(
    gql: GraphQLClient, services: Services, case: str, code: str, field: str | None
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    author = await sign_up(gql, "author")
    input: dict[str, Any] = {"reason": "a good reason"}
    if case == "own_post":
        author = moderator
    elif case == "admin_post":
        author = await make_staff(gql, services, "boss", "ADMIN")
    post_id = await post(gql, author, "target")
    input["postId"] = post_id
    if case == "no_reason":
        input["reason"] = "  "
    elif case == "unknown_post":
        input["postId"] = "UG9zdDo5OTk5OQ=="  # Post:99999
    elif case == "long_public_reason":
        input["publicReason"] = "x" * 1001
    elif case == "someone_elses_case":
        other = await sign_up(gql, "other")
        await report_post(gql, author, other_post := await post(gql, other, "elsewhere"))
        input["caseId"] = await case_id_of(services, other_post)

    result = await act(gql, HIDE_POST, moderator, **input)
    seen = await gql.execute(POST, {"id": post_id}, token=author.token)

    assert (result["code"], result["field"]) == (code, field)
    assert seen["post"] is None or seen["post"]["hidden"] is False
    [entry] = await audit_entries(services, "moderation.hide_post")
    assert entry.outcome == f"refused:{code}"
    assert entry.actor_handle == "mod"


async def test_refused_account_actions(gql: GraphQLClient, services: Services) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    peer = await make_staff(gql, services, "peer", "MODERATOR")
    admin = await make_staff(gql, services, "boss", "ADMIN")
    member = await sign_up(gql, "member")

    self_limit = await act(gql, LIMIT_ACCOUNT, moderator, accountId=moderator.id, reason="myself")
    outranked = await act(gql, SUSPEND_ACCOUNT, moderator, accountId=admin.id, reason="coup")
    past = await act(
        gql,
        SUSPEND_ACCOUNT,
        moderator,
        accountId=member.id,
        reason="too late",
        until="2020-01-01T00:00:00+00:00",
    )
    unknown = await act(
        gql, LIMIT_ACCOUNT, moderator, accountId="QWNjb3VudDo5OTk5OQ==", reason="who?"
    )
    same_rank = await act(gql, LIMIT_ACCOUNT, moderator, accountId=peer.id, reason="peer review")

    assert self_limit["code"] == "CANNOT_MODERATE_SELF"
    assert outranked["code"] == "TARGET_OUTRANKS_ACTOR"
    assert (past["code"], past["field"]) == ("INVALID_EXPIRY", "until")
    assert (unknown["code"], unknown["field"]) == ("NOT_FOUND", "accountId")
    assert same_rank["__typename"] == "StrikePayload"  # equal rank may act
    outcomes = [e.outcome for e in await audit_entries(services, "moderation.suspend_account")]
    assert outcomes == ["refused:TARGET_OUTRANKS_ACTOR", "refused:INVALID_EXPIRY"]


@pytest.mark.parametrize(
    "until",
    [
        pytest.param("2099-01-01T00:00:00", id="no time zone"),
        pytest.param("9999-12-31T23:59:59-12:00", id="past year 9999 in UTC"),
        pytest.param("2020-01-01T00:00:00+00:00", id="in the past"),
    ],
)
async def test_a_suspension_end_must_have_a_time_zone_and_fit_in_utc(
    gql: GraphQLClient, services: Services, until: str
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    member = await sign_up(gql, "member")

    result = await act(
        gql, SUSPEND_ACCOUNT, moderator, accountId=member.id, reason="spam", until=until
    )
    status = await gql.execute(STANDING, {"id": member.id}, token=moderator.token)

    assert (result["__typename"], result["code"], result["field"]) == (
        "ValidationError",
        "INVALID_EXPIRY",
        "until",
    )
    assert status["node"]["moderationStatus"]["suspended"] is False
    assert status["node"]["strikes"]["edges"] == []
    [entry] = await audit_entries(services, "moderation.suspend_account")
    assert entry.outcome == "refused:INVALID_EXPIRY"


async def test_a_suspension_end_in_any_time_zone_is_kept_in_utc(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    member = await sign_up(gql, "member")

    result = await act(
        gql,
        SUSPEND_ACCOUNT,
        moderator,
        accountId=member.id,
        reason="spam",
        until="2099-01-01T00:30:00+14:00",
    )

    assert result["__typename"] == "StrikePayload"
    expires = datetime.fromisoformat(result["strike"]["expiresAt"])
    assert expires == datetime(2098, 12, 31, 10, 30, tzinfo=UTC)
    assert expires.utcoffset() == timedelta(0)


@pytest.mark.parametrize("role", [None, "SUPPORT", "AUDITOR"])
async def test_actions_without_permission_are_forbidden(
    gql: GraphQLClient, services: Services, role: str | None
) -> None:
    member = await sign_up(gql, "member")
    post_id = await post(gql, member, "fine post")
    viewer: User = (
        await sign_up(gql, "someone")
        if role is None
        else await make_staff(gql, services, "staffer", role)
    )

    for doc, input in (
        (HIDE_POST, {"postId": post_id, "reason": "because"}),
        (MARK_SENSITIVE, {"postId": post_id, "reason": "because"}),
        (LIMIT_ACCOUNT, {"accountId": member.id, "reason": "because"}),
        (SUSPEND_ACCOUNT, {"accountId": member.id, "reason": "because"}),
    ):
        errors = await gql.errors(doc, {"input": input}, token=viewer.token)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql.execute(POST, {"id": post_id}))["post"]["hidden"] is False


async def test_an_expired_suspension_never_blocks_and_the_sweep_records_its_lift(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    member = await sign_up(gql, "member")
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    credentials = {"input": {"login": "member", "password": PASSWORD}}

    suspended = await act(
        gql, SUSPEND_ACCOUNT, moderator, accountId=member.id, reason="cool off", until=until
    )
    during = await gql.execute(LOG_IN, credentials)
    await run_out_suspension(services, "member")  # its end has passed; nothing swept it yet
    after = await gql.execute(LOG_IN, credentials)
    status = await gql.execute(STANDING, {"id": member.id}, token=moderator.token)
    swept = await services.runners["suspension-sweep"].run_once()
    swept_again = await services.runners["suspension-sweep"].run_once()
    strikes = await gql.execute(STANDING, {"id": member.id}, token=moderator.token)

    assert during["logIn"]["code"] == "ACCOUNT_SUSPENDED"
    assert "until 20" in during["logIn"]["message"]
    assert after["logIn"]["__typename"] == "SessionPayload"  # before any sweep ran
    assert status["node"]["moderationStatus"]["suspended"] is False
    assert status["node"]["strikes"]["edges"][0]["node"]["status"] == "EXPIRED"
    assert status["node"]["strikes"]["edges"][0]["node"]["liftedAt"] is None
    assert (swept, swept_again) == (1, 0)
    [strike] = strikes["node"]["strikes"]["edges"]
    assert strike["node"]["id"] == suspended["strike"]["id"]
    assert strike["node"]["liftedAt"] is not None
    [entry] = await audit_entries(services, "moderation.expire_suspension")
    assert entry.actor_handle == "system:moderation-sweep"
    assert entry.after is not None and entry.after["suspended"] is False


async def test_overturning_a_run_out_suspension_before_the_sweep_stays_overturned(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    member = await sign_up(gql, "member")
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    suspended = await act(
        gql, SUSPEND_ACCOUNT, moderator, accountId=member.id, reason="cool off", until=until
    )
    strike_id = suspended["strike"]["id"]
    await run_out_suspension(services, "member")
    logged_in = await gql.execute(
        LOG_IN_TOKEN, {"input": {"login": "member", "password": PASSWORD}}
    )
    back = User(member.id, member.handle, logged_in["logIn"]["token"])
    appealed = await act(gql, APPEAL, back, strikeId=strike_id, note="it was not spam")
    assert appealed["strike"]["status"] == "EXPIRED"

    overturned = await act(
        gql,
        DECIDE_APPEAL,
        moderator,
        strikeId=strike_id,
        decision="OVERTURN",
        reason="wrong account",
    )
    swept = await services.runners["suspension-sweep"].run_once()
    later = await gql.execute(STANDING, {"id": member.id}, token=moderator.token)

    assert overturned["strike"]["status"] == "OVERTURNED"
    assert overturned["strike"]["liftedAt"] is not None
    assert swept == 0  # the overturn already cleared the suspension
    [strike] = later["node"]["strikes"]["edges"]
    assert strike["node"]["status"] == "OVERTURNED"
    assert later["node"]["moderationStatus"] == {"suspended": False, "suspendedUntil": None}
    assert await audit_entries(services, "moderation.expire_suspension") == []
    [entry] = await audit_entries(services, "moderation.appeal.overturn")
    assert (entry.before, entry.after) == (
        {"appeal": "PENDING", "strike": "EXPIRED"},
        {"appeal": "OVERTURNED", "strike": "OVERTURNED"},
    )


async def test_suspending_again_after_an_unswept_expiry_closes_the_old_strike(
    gql: GraphQLClient, services: Services
) -> None:
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    member = await sign_up(gql, "member")
    await act(gql, SUSPEND_ACCOUNT, moderator, accountId=member.id, reason="first time")
    await run_out_suspension(services, "member")

    again = await act(gql, SUSPEND_ACCOUNT, moderator, accountId=member.id, reason="second")
    strikes = await gql.execute(STANDING, {"id": member.id}, token=moderator.token)

    assert again["strike"]["status"] == "IN_FORCE"
    statuses = [e["node"]["status"] for e in strikes["node"]["strikes"]["edges"]]
    assert statuses == ["IN_FORCE", "EXPIRED"]
    assert strikes["node"]["moderationStatus"]["suspended"] is True
