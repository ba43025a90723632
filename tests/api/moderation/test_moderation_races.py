"""Moderation racing support on one account. Every staff action writes its audit entry last
(the audit chain's lock is the last lock it takes), so two actions that touch the same rows
never wait on each other in opposite orders. On PostgreSQL these races would deadlock
otherwise; on SQLite writers are serialised and they pass trivially."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from app.runtime import Services
from tests.support.accounts import PASSWORD, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff

LOG_IN = "mutation ($i: LogInInput!) { logIn(input: $i) { __typename } }"
END_ALL = """
mutation ($i: EndAllSessionsInput!) {
  endAllSessions(input: $i) { __typename ... on UserError { code } }
}
"""
SUSPEND = """
mutation ($i: SuspendAccountInput!) {
  suspendAccount(input: $i) { __typename ... on UserError { code } }
}
"""
ROUNDS = 25


def _outcome(response: httpx.Response) -> str:
    body = response.json()
    if body.get("errors"):
        return f"error:{body['errors'][0].get('extensions', {}).get('code')}"
    (result,) = body["data"].values()
    return str(result.get("code") or result["__typename"])


async def test_suspending_an_account_while_support_ends_its_sessions_never_deadlocks(
    gql: GraphQLClient, services: Services
) -> None:
    support = await make_staff(gql, services, "support", "SUPPORT")
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    outcomes: Counter[str] = Counter()
    for n in range(ROUNDS):
        member = await sign_up(gql, f"member{n}")
        for _ in range(2):  # live sessions for both sides to revoke
            await gql.execute(LOG_IN, {"i": {"login": member.handle, "password": PASSWORD}})

        responses = await asyncio.gather(
            gql.post(
                END_ALL, {"i": {"accountId": member.id, "reason": "hijacked"}}, token=support.token
            ),
            gql.post(
                SUSPEND,
                {"i": {"accountId": member.id, "reason": "spam wave"}},
                token=moderator.token,
            ),
            gql.post(
                END_ALL, {"i": {"accountId": member.id, "reason": "hijacked"}}, token=support.token
            ),
        )
        outcomes.update(_outcome(r) for r in responses)

    assert outcomes == {"SessionsEndedPayload": 2 * ROUNDS, "StrikePayload": ROUNDS}
