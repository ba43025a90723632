"""Support tools: account search, sessions, log-in history, the email, ending sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.runtime import Services
from models.accounts.tables import FailedLogin
from resolvers.paging import global_id
from tests.support.accounts import PASSWORD, sign_up
from tests.support.audit import audit_entries
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff

SEARCH = """
query ($filter: AccountSearchInput!, $first: Int!, $after: String) {
  accountSearch(filter: $filter, first: $first, after: $after) {
    edges { cursor node { handle } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
LOG_IN = """
mutation ($input: LogInInput!) {
  logIn(input: $input) { __typename ... on SessionPayload { token } ... on UserError { code message } }
}
"""
ACCOUNT_DETAIL = """
query ($id: ID!) {
  node(id: $id) {
    ... on Account {
      handle email twoFactorEnabled
      sessions(first: 10) { edges { node { id active ip userAgent secondFactor revokedAt } } }
      loginHistory(first: 10) {
        edges { node { succeeded failure ip userAgent secondFactor sessionId } }
      }
    }
  }
}
"""
ACCOUNT_FIELD = "query ($id: ID!) { node(id: $id) { ... on Account { FIELD } } }"
EMAIL = "query ($id: ID!) { node(id: $id) { ... on Account { email } } }"
VIEWER = "query { viewer { handle } }"
END_SESSION = """
mutation ($input: EndSessionInput!) {
  endSession(input: $input) {
    __typename
    ... on SessionsEndedPayload { accountId sessionsEnded }
    ... on UserError { code field }
  }
}
"""
END_ALL = """
mutation ($input: EndAllSessionsInput!) {
  endAllSessions(input: $input) {
    __typename
    ... on SessionsEndedPayload { accountId sessionsEnded }
    ... on UserError { code field }
  }
}
"""


def handles(data: dict[str, Any]) -> list[str]:
    return [e["node"]["handle"] for e in data["accountSearch"]["edges"]]


async def log_in(gql: GraphQLClient, login: str, password: str, agent: str) -> dict[str, Any]:
    response = await gql.http.post(
        "/graphql",
        json={"query": LOG_IN, "variables": {"input": {"login": login, "password": password}}},
        headers={"user-agent": agent},
    )
    result: dict[str, Any] = response.json()["data"]["logIn"]
    return result


async def test_support_finds_accounts_by_handle_prefix_email_and_ip(
    gql: GraphQLClient, services: Services
) -> None:
    support = await make_staff(gql, services, "helper", "SUPPORT")
    await sign_up(gql, "alice_one")
    await sign_up(gql, "alice_two")
    await sign_up(gql, "bob")

    first = await gql.execute(
        SEARCH, {"filter": {"handlePrefix": "@ALICE"}, "first": 1}, token=support.token
    )
    cursor = first["accountSearch"]["pageInfo"]["endCursor"]
    second = await gql.execute(
        SEARCH,
        {"filter": {"handlePrefix": "alice"}, "first": 1, "after": cursor},
        token=support.token,
    )
    by_email = await gql.execute(
        SEARCH, {"filter": {"email": "BOB@example.com"}, "first": 10}, token=support.token
    )
    by_prefix = await gql.execute(
        SEARCH, {"filter": {"emailPrefix": "alice_"}, "first": 10}, token=support.token
    )
    by_ip = await gql.execute(
        SEARCH, {"filter": {"ip": "203.0.113.7"}, "first": 10}, token=support.token
    )
    other_ip = await gql.execute(
        SEARCH, {"filter": {"ip": "2001:db8::1"}, "first": 10}, token=support.token
    )

    assert handles(first) == ["alice_two"]
    assert first["accountSearch"]["pageInfo"]["hasNextPage"] is True
    assert handles(second) == ["alice_one"]
    assert second["accountSearch"]["pageInfo"]["hasNextPage"] is False
    assert handles(by_email) == ["bob"]
    assert handles(by_prefix) == ["alice_two", "alice_one"]
    assert handles(by_ip) == ["bob", "alice_two", "alice_one", "helper"]
    assert handles(other_ip) == []
    searches = await audit_entries(services, action="read.account_search")
    assert [(e.target_type, e.target_id) for e in searches][-2:] == [
        ("ip", "203.0.113.7"),
        ("ip", "2001:db8::1"),
    ]
    assert all(e.actor_handle == "helper" for e in searches)


async def test_account_search_without_permission_is_forbidden(
    gql: GraphQLClient, services: Services
) -> None:
    user = await sign_up(gql, "curious")
    billing = await make_staff(gql, services, "biller", "BILLING_ADMIN")
    variables = {"filter": {"handlePrefix": "cur"}, "first": 5}

    as_user = await gql.errors(SEARCH, variables, token=user.token)
    as_billing = await gql.errors(SEARCH, variables, token=billing.token)

    assert as_user[0]["extensions"]["code"] == "FORBIDDEN"
    assert as_billing[0]["extensions"]["code"] == "FORBIDDEN"


async def test_only_email_readers_search_by_email(gql: GraphQLClient, services: Services) -> None:
    """`Account.email` is for SUPPORT and ADMIN; searching by an email prefix would otherwise
    let any searcher spell an address out one character at a time."""
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    auditor = await make_staff(gql, services, "aud", "AUDITOR")
    admin = await make_staff(gql, services, "boss", "ADMIN")
    await sign_up(gql, "victim")
    by_email = [{"email": "victim@example.com"}, {"emailPrefix": "vic"}]

    for searcher in (moderator, auditor):
        for search in by_email:
            errors = await gql.errors(SEARCH, {"filter": search, "first": 5}, token=searcher.token)
            assert [(e["extensions"]["code"], e["path"]) for e in errors] == [
                ("FORBIDDEN", ["accountSearch"])
            ], (searcher.handle, search)
        by_handle = await gql.execute(
            SEARCH, {"filter": {"handlePrefix": "vic"}, "first": 5}, token=searcher.token
        )
        assert handles(by_handle) == ["victim"]
    for search in by_email:
        found = await gql.execute(SEARCH, {"filter": search, "first": 5}, token=admin.token)
        assert handles(found) == ["victim"]
    searches = await audit_entries(services, action="read.account_search")
    assert sorted((e.actor_handle, e.target_type) for e in searches) == [
        ("aud", "handle_prefix"),
        ("boss", "email"),
        ("boss", "email_prefix"),
        ("mod", "handle_prefix"),
    ]
    refused = await audit_entries(services, action="access.refused")
    assert sorted((e.actor_handle, e.target_id, e.outcome) for e in refused) == [
        (who, f"Query.accountSearch.{criterion}", "refused:ROLE_REQUIRED")
        for who in ("aud", "mod")
        for criterion in ("email", "emailPrefix")
    ]


async def test_a_malformed_search_is_bad_user_input(gql: GraphQLClient, services: Services) -> None:
    support = await make_staff(gql, services, "helper", "SUPPORT")
    bad = [
        {},
        {"handlePrefix": "a", "email": "a@example.com"},
        {"ip": "not-an-ip"},
        {"emailPrefix": "ab"},
        {"handlePrefix": "   "},
    ]

    for search in bad:
        errors = await gql.errors(SEARCH, {"filter": search, "first": 5}, token=support.token)
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", search
    bad_cursor = await gql.errors(
        SEARCH,
        {"filter": {"handlePrefix": "h"}, "first": 5, "after": "bm9wZQ=="},
        token=support.token,
    )
    assert bad_cursor[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_support_reads_sessions_and_log_in_history_with_refused_attempts(
    gql: GraphQLClient, services: Services
) -> None:
    owner = await sign_up(gql, "victim")
    wrong = await log_in(gql, "victim", "not the password", "Hijacker/1.0")
    unknown = await log_in(gql, "nobody_here", "not the password", "Hijacker/1.0")
    await log_in(gql, "victim@example.com", PASSWORD, "Phone/2.0")
    support = await make_staff(gql, services, "helper", "SUPPORT")

    data = await gql.execute(ACCOUNT_DETAIL, {"id": owner.id}, token=support.token)

    assert unknown == wrong  # the public answer says nothing about which accounts exist
    account = data["node"]
    assert account["email"] == "victim@example.com"
    assert account["twoFactorEnabled"] is False
    sessions = [e["node"] for e in account["sessions"]["edges"]]
    assert [(s["userAgent"], s["active"], s["ip"]) for s in sessions] == [
        ("Phone/2.0", True, "203.0.113.7"),
        ("python-httpx/0.28.1", True, "203.0.113.7"),
    ]
    history = [e["node"] for e in account["loginHistory"]["edges"]]
    assert [(h["succeeded"], h["failure"], h["userAgent"]) for h in history] == [
        (True, None, "Phone/2.0"),
        (False, "INVALID_CREDENTIALS", "Hijacker/1.0"),
        (True, None, "python-httpx/0.28.1"),
    ]
    assert history[0]["sessionId"] == sessions[0]["id"]
    reads = {(e.action, e.target_id) for e in await audit_entries(services)}
    account_id = str(await _db_id(services, "victim"))
    assert {
        ("read.sessions", account_id),
        ("read.login_history", account_id),
        ("read.email", account_id),
    } <= reads
    async with services.runtime.read_sessionmaker() as session:
        anonymous = await session.scalar(
            select(func.count()).select_from(FailedLogin).where(FailedLogin.account_id.is_(None))
        )
    assert anonymous == 1


async def test_sessions_and_history_without_permission_are_forbidden(
    gql: GraphQLClient, services: Services
) -> None:
    owner = await sign_up(gql, "owner")
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    fields = (
        "sessions(first: 1) { edges { cursor } }",
        "loginHistory(first: 1) { edges { cursor } }",
        "twoFactorEnabled",
    )

    for field in fields:
        query = ACCOUNT_FIELD.replace("FIELD", field)
        for token in (owner.token, moderator.token):
            errors = await gql.errors(query, {"id": owner.id}, token=token)
            assert errors[0]["extensions"]["code"] == "FORBIDDEN", field
    assert await audit_entries(services, action="read.sessions") == []


async def test_log_in_history_pages_through_a_cursor(
    gql: GraphQLClient, services: Services
) -> None:
    owner = await sign_up(gql, "pager")
    for _ in range(2):
        await log_in(gql, "pager", "not the password", "Guess/1")
    await log_in(gql, "pager", PASSWORD, "Phone/2")
    support = await make_staff(gql, services, "helper", "SUPPORT")
    page = """
    query ($id: ID!, $after: String) { node(id: $id) { ... on Account {
      loginHistory(first: 2, after: $after) {
        edges { node { succeeded userAgent } } pageInfo { hasNextPage endCursor }
      } } } }
    """

    seen: list[tuple[bool, str]] = []
    after = None
    while True:
        data = await gql.execute(page, {"id": owner.id, "after": after}, token=support.token)
        history = data["node"]["loginHistory"]
        seen += [(e["node"]["succeeded"], e["node"]["userAgent"]) for e in history["edges"]]
        if not history["pageInfo"]["hasNextPage"]:
            break
        after = history["pageInfo"]["endCursor"]

    assert seen == [
        (True, "Phone/2"),
        (False, "Guess/1"),
        (False, "Guess/1"),
        (True, "python-httpx/0.28.1"),
    ]


async def _db_id(services: Services, handle: str) -> int:
    from models.accounts import actions as accounts

    async with services.runtime.read_sessionmaker() as session:
        account = await accounts.get_account_by_handle(session, handle=handle)
    assert account is not None
    return account.id


async def test_the_email_is_for_its_owner_and_support_and_staff_reads_are_audited(
    gql: GraphQLClient, services: Services
) -> None:
    owner = await sign_up(gql, "owner")
    stranger = await sign_up(gql, "stranger")
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    support = await make_staff(gql, services, "helper", "SUPPORT")

    own = await gql.execute(EMAIL, {"id": owner.id}, token=owner.token)
    by_stranger = await gql.execute(EMAIL, {"id": owner.id}, token=stranger.token)
    by_anonymous = await gql.execute(EMAIL, {"id": owner.id})
    by_moderator = await gql.execute(EMAIL, {"id": owner.id}, token=moderator.token)
    reads_before = await audit_entries(services, action="read.email")
    by_support = await gql.execute(EMAIL, {"id": owner.id}, token=support.token)
    reads_after = await audit_entries(services, action="read.email")

    assert own["node"]["email"] == "owner@example.com"
    assert by_stranger["node"]["email"] is None
    assert by_anonymous["node"]["email"] is None
    assert by_moderator["node"]["email"] is None
    assert by_support["node"]["email"] == "owner@example.com"
    assert reads_before == []
    [read] = reads_after
    assert (read.actor_handle, read.target_type) == ("helper", "account")


async def test_support_ends_one_session_and_it_stops_working(
    gql: GraphQLClient, services: Services
) -> None:
    owner = await sign_up(gql, "owner")
    phone = await log_in(gql, "owner", PASSWORD, "Phone/1")
    support = await make_staff(gql, services, "helper", "SUPPORT")
    detail = await gql.execute(ACCOUNT_DETAIL, {"id": owner.id}, token=support.token)
    phone_session = detail["node"]["sessions"]["edges"][0]["node"]["id"]
    request = {"input": {"sessionId": phone_session, "reason": "owner lost the phone"}}

    ended = await gql.execute(END_SESSION, request, token=support.token)
    again = await gql.execute(END_SESSION, request, token=support.token)

    assert ended["endSession"] == {
        "__typename": "SessionsEndedPayload",
        "accountId": owner.id,
        "sessionsEnded": 1,
    }
    assert again["endSession"]["sessionsEnded"] == 0
    assert (await gql.post(VIEWER, token=phone["token"])).status_code == 401
    assert (await gql.execute(VIEWER, token=owner.token))["viewer"] == {"handle": "owner"}
    first, _ = await audit_entries(services, action="session.end")
    assert first.reason == "owner lost the phone"
    assert first.outcome == "ok"
    assert first.before is not None and first.after is not None
    assert len(first.before["live_sessions"]) == 2  # type: ignore[arg-type]
    assert first.after["ended"] == [int(first.target_id)]


async def test_support_ends_every_session_of_an_account(
    gql: GraphQLClient, services: Services
) -> None:
    owner = await sign_up(gql, "owner")
    laptop = await log_in(gql, "owner", PASSWORD, "Laptop/1")
    support = await make_staff(gql, services, "helper", "SUPPORT")

    ended = await gql.execute(
        END_ALL,
        {"input": {"accountId": owner.id, "reason": "account hijacked"}},
        token=support.token,
    )

    assert ended["endAllSessions"]["sessionsEnded"] == 2
    for token in (owner.token, laptop["token"]):
        assert (await gql.post(VIEWER, token=token)).status_code == 401
    [entry] = await audit_entries(services, action="session.end_all")
    assert (entry.target_type, entry.reason, entry.outcome) == (
        "account",
        "account hijacked",
        "ok",
    )


async def test_refused_session_endings_are_typed_errors_and_audited(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    support = await make_staff(gql, services, "helper", "SUPPORT")
    user = await sign_up(gql, "user")
    unknown = global_id("Account", 999_999)

    cases = {
        "no reason": (END_ALL, {"accountId": user.id, "reason": " "}, "REASON_REQUIRED"),
        "unknown": (END_ALL, {"accountId": unknown, "reason": "why not"}, "NOT_FOUND"),
        "outranked": (
            END_ALL,
            {"accountId": admin.id, "reason": "why not"},
            "TARGET_OUTRANKS_ACTOR",
        ),
        "unknown session": (
            END_SESSION,
            {"sessionId": global_id("AccountSession", 999_999), "reason": "why not"},
            "NOT_FOUND",
        ),
        "malformed": (END_SESSION, {"sessionId": "nonsense", "reason": "why"}, "INVALID_ID"),
    }
    codes = {}
    for name, (document, variables, _) in cases.items():
        data = await gql.execute(document, {"input": variables}, token=support.token)
        codes[name] = next(iter(data.values()))["code"]

    assert codes == {name: code for name, (_, _, code) in cases.items()}
    refusals = [
        e.outcome for e in await audit_entries(services) if e.action.startswith("session.end")
    ]
    assert refusals == [
        "refused:REASON_REQUIRED",
        "refused:NOT_FOUND",
        "refused:TARGET_OUTRANKS_ACTOR",
        "refused:NOT_FOUND",
    ]
    assert (await gql.execute(VIEWER, token=admin.token))["viewer"] == {"handle": "boss"}


async def test_ending_sessions_without_permission_is_forbidden(
    gql: GraphQLClient, services: Services
) -> None:
    user = await sign_up(gql, "user")
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    request = {"input": {"accountId": user.id, "reason": "trying it"}}

    as_user = await gql.errors(END_ALL, request, token=user.token)
    as_moderator = await gql.errors(END_ALL, request, token=moderator.token)

    assert as_user[0]["extensions"]["code"] == "FORBIDDEN"
    assert as_moderator[0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql.execute(VIEWER, token=user.token))["viewer"] == {"handle": "user"}
    assert await audit_entries(services, action="session.end_all") == []
