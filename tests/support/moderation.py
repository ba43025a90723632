"""Arranging moderation through the public API: reports, cases, actions and appeals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from app.runtime import Services
from models.accounts.tables import Account
from models.moderation.kinds import Action
from models.moderation.tables import ModerationCase, Strike
from resolvers.paging import global_id, parse_global_id
from tests.support.accounts import User, post
from tests.support.graphql import GraphQLClient

REPORT_POST = """
mutation Report($input: ReportPostInput!) {
  reportPost(input: $input) {
    __typename
    ... on ReportPayload { report { id category note reporter { handle } } }
    ... on UserError { code field message }
  }
}
"""
REPORT_ACCOUNT = """
mutation Report($input: ReportAccountInput!) {
  reportAccount(input: $input) {
    __typename
    ... on ReportPayload { report { id category note } }
    ... on UserError { code field message }
  }
}
"""
STRIKE_FIELDS = """
  id action reason category status createdAt expiresAt liftedAt canAppeal
  appeal { note status message decidedAt }
  post { id hidden sensitive }
"""
ACTION = """
mutation Act($input: %(input)s!) {
  %(field)s(input: $input) {
    __typename
    ... on StrikePayload { strike { %(strike)s } }
    ... on UserError { code field message }
  }
}
"""


def action_document(field: str, input_type: str) -> str:
    return ACTION % {"field": field, "input": input_type, "strike": STRIKE_FIELDS}


HIDE_POST = action_document("hidePost", "ModeratePostInput")
MARK_SENSITIVE = action_document("markPostSensitive", "ModeratePostInput")
LIMIT_ACCOUNT = action_document("limitAccount", "LimitAccountInput")
SUSPEND_ACCOUNT = action_document("suspendAccount", "SuspendAccountInput")
LIFT = action_document("liftModerationAction", "LiftModerationActionInput")
DECIDE_APPEAL = action_document("decideAppeal", "DecideAppealInput")
APPEAL = action_document("appealStrike", "AppealStrikeInput")


async def report_post(
    gql: GraphQLClient, reporter: User, post_id: str, category: str = "SPAM", **extra: Any
) -> dict[str, Any]:
    data = await gql.execute(
        REPORT_POST,
        {"input": {"postId": post_id, "category": category, **extra}},
        token=reporter.token,
    )
    result: dict[str, Any] = data["reportPost"]
    return result


async def case_id_of(services: Services, target_gid: str) -> str:
    """The global id of the newest case about a post or account (read from the database:
    reporters are not told which case their report joined)."""
    _, key = parse_global_id(target_gid, expect=None, field="id")
    async with services.runtime.read_sessionmaker() as session:
        case_id = await session.scalar(
            select(ModerationCase.id)
            .where(ModerationCase.target_id == key)
            .order_by(ModerationCase.id.desc())
            .limit(1)
        )
    assert case_id is not None, target_gid
    return global_id("ModerationCase", case_id)


async def act(gql: GraphQLClient, document: str, staff: User, **input: Any) -> dict[str, Any]:
    data = await gql.execute(document, {"input": input}, token=staff.token)
    (result,) = data.values()
    assert isinstance(result, dict)
    return result


async def hidden_post_strike(gql: GraphQLClient, staff: User, author: User) -> tuple[str, str]:
    """A new post by `author`, hidden by `staff`: (post id, strike id)."""
    post_id = await post(gql, author, "something to moderate")
    result = await act(gql, HIDE_POST, staff, postId=post_id, reason="arranged for a test")
    assert result["__typename"] == "StrikePayload", result
    return post_id, result["strike"]["id"]


async def run_out_suspension(services: Services, handle: str) -> datetime:
    """Move the end of an account's suspension (and of its strike) into the past, as if it
    had run out while nothing swept it: no waiting on the wall clock. Returns the new end."""
    ended = datetime.now(UTC) - timedelta(minutes=1)
    async with services.runtime.sessionmaker() as session, session.begin():
        account_id = await session.scalar(
            update(Account)
            .where(Account.handle == handle, Account.suspended_at.is_not(None))
            .values(suspended_until=ended)
            .returning(Account.id)
        )
        assert account_id is not None, f"{handle} is not suspended"
        await session.execute(
            update(Strike)
            .where(
                Strike.account_id == account_id,
                Strike.action == Action.SUSPEND_ACCOUNT.value,
                Strike.lifted_at.is_(None),
            )
            .values(expires_at=ended)
        )
    return ended
