"""A password alone never yields staff powers: an account granted a staff role without a
second factor enrols one only with the single-use, expiring code an ADMIN issues, and its
owner is told by email of every grant and every enrolment (a real SMTP server, aiosmtpd)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app.runtime import Services
from app.settings import Settings
from models.access.tables import TotpEnrolmentCode
from models.base import utcnow
from resolvers.paging import parse_global_id
from tests.conftest import eventually, make_settings
from tests.support.accounts import PASSWORD, User, sign_up
from tests.support.audit import audit_entries
from tests.support.backends import Database
from tests.support.graphql import GraphQLClient
from tests.support.smtp import SmtpServer, smtp_server_fixture  # noqa: F401
from tests.support.staff import BEGIN_TOTP, CONFIRM_TOTP, Staff, make_staff, totp_code

GRANT = """
mutation ($input: ChangeRoleInput!) { grantRole(input: $input) { __typename } }
"""
ISSUE = """
mutation ($input: IssueTotpEnrolmentCodeInput!) {
  issueTotpEnrolmentCode(input: $input) {
    __typename
    ... on TotpEnrolmentCode { accountId enrolmentCode: code expiresAt }
    ... on UserError { code field }
  }
}
"""
LOG_IN = """
mutation ($input: LogInInput!) { logIn(input: $input) { ... on SessionPayload { token } } }
"""
VIEWER_ROLES = "query { viewerRoles }"
SESSIONS = """
query ($id: ID!) { node(id: $id) { ... on Account { sessions(first: 5) { edges { cursor } } } } }
"""


@pytest.fixture
def settings(database: Database, smtp_server: SmtpServer) -> Settings:
    return make_settings(database, smtp_host="127.0.0.1", smtp_port=smtp_server.port)


async def _grant(gql: GraphQLClient, admin: Staff, user: User, role: str = "SUPPORT") -> None:
    variables = {"input": {"accountId": user.id, "role": role, "reason": "new hire"}}
    granted = await gql.execute(GRANT, variables, token=admin.token)
    assert granted["grantRole"]["__typename"] == "RolesPayload", granted


async def _issue(gql: GraphQLClient, admin: Staff, user: User) -> dict[str, Any]:
    variables = {"input": {"accountId": user.id, "reason": "onboarding"}}
    issued: dict[str, Any] = (await gql.execute(ISSUE, variables, token=admin.token))[
        "issueTotpEnrolmentCode"
    ]
    return issued


async def _begin(gql: GraphQLClient, token: str, code: str | None = None) -> dict[str, Any]:
    variables = {"password": PASSWORD, "enrolmentCode": code}
    begun: dict[str, Any] = (await gql.execute(BEGIN_TOTP, variables, token=token))[
        "beginTotpEnrolment"
    ]
    return begun


async def _confirm(gql: GraphQLClient, token: str, secret: str) -> dict[str, Any]:
    confirmed: dict[str, Any] = (
        await gql.execute(CONFIRM_TOTP, {"code": totp_code(secret)}, token=token)
    )["confirmTotpEnrolment"]
    return confirmed


async def test_a_password_alone_cannot_enrol_a_staff_accounts_second_factor(
    gql: GraphQLClient, services: Services, smtp_server: SmtpServer
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    hire = await sign_up(gql, "hire")
    await _grant(gql, admin, hire)
    # Whoever knows the password logs in and tries to enrol an authenticator of their own.
    intruder = (await gql.execute(LOG_IN, {"input": {"login": "hire", "password": PASSWORD}}))[
        "logIn"
    ]["token"]

    without_code = await _begin(gql, intruder)
    guessed = await _begin(gql, intruder, "AAAA-BBBB-CCCC-DDDD")
    intruder_roles = (await gql.execute(VIEWER_ROLES, token=intruder))["viewerRoles"]
    refused = await gql.errors(SESSIONS, {"id": hire.id}, token=intruder)

    issued = await _issue(gql, admin, hire)
    begun = await _begin(gql, hire.token, issued["enrolmentCode"])
    second_use = await _begin(gql, intruder, issued["enrolmentCode"])
    confirmed = await _confirm(gql, hire.token, begun["secret"])
    owner_roles = (await gql.execute(VIEWER_ROLES, token=hire.token))["viewerRoles"]

    assert without_code == {"__typename": "AuthenticationError", "code": "ENROLMENT_CODE_REQUIRED"}
    assert guessed == {"__typename": "AuthenticationError", "code": "INVALID_ENROLMENT_CODE"}
    assert intruder_roles == ["USER"]
    assert refused[0]["extensions"]["code"] == "FORBIDDEN"
    assert issued["__typename"] == "TotpEnrolmentCode" and issued["accountId"] == hire.id
    assert begun["__typename"] == "TotpEnrolment"
    assert second_use == {"__typename": "AuthenticationError", "code": "INVALID_ENROLMENT_CODE"}
    assert confirmed["__typename"] == "TotpEnabled"
    assert owner_roles == ["SUPPORT", "USER"]
    [entry] = await audit_entries(services, "totp.enrolment_code")
    assert (entry.actor_handle, entry.reason, entry.outcome) == ("boss", "onboarding", "ok")
    assert issued["enrolmentCode"] not in str(entry.after)

    async def told() -> bool:
        return len([r for r in smtp_server.received if r.rcpt_tos == ["hire@example.com"]]) == 2

    await eventually(told)
    subjects = sorted(
        r.message["Subject"] for r in smtp_server.received if r.rcpt_tos == ["hire@example.com"]
    )
    assert subjects == [
        "Two-factor authentication was turned on for your Chirp account",
        "Your Chirp account was granted the SUPPORT role",
    ]


async def test_an_expired_code_or_one_issued_for_another_account_is_refused(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    late = await sign_up(gql, "late")
    other = await sign_up(gql, "other")
    await _grant(gql, admin, late)
    await _grant(gql, admin, other)
    late_code = (await _issue(gql, admin, late))["enrolmentCode"]
    other_code = (await _issue(gql, admin, other))["enrolmentCode"]
    _, late_id = parse_global_id(late.id, expect="Account", field="id")
    async with services.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(TotpEnrolmentCode)
            .where(TotpEnrolmentCode.account_id == late_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    expired = await _begin(gql, late.token, late_code)
    someone_elses = await _begin(gql, late.token, other_code)
    still_good = await _begin(gql, other.token, other_code)

    assert expired == {"__typename": "AuthenticationError", "code": "INVALID_ENROLMENT_CODE"}
    assert someone_elses == {"__typename": "AuthenticationError", "code": "INVALID_ENROLMENT_CODE"}
    assert still_good["__typename"] == "TotpEnrolment"


async def test_an_enrolment_begun_before_a_grant_cannot_finish_after_it(
    gql: GraphQLClient, services: Services
) -> None:
    """The race: begin as a plain USER (no code needed), get the role, then confirm."""
    admin = await make_staff(gql, services, "boss", "ADMIN")
    hire = await sign_up(gql, "hire")
    begun = await _begin(gql, hire.token)
    await _grant(gql, admin, hire)

    confirmed = await _confirm(gql, hire.token, begun["secret"])
    roles = (await gql.execute(VIEWER_ROLES, token=hire.token))["viewerRoles"]

    assert confirmed["__typename"] == "AuthenticationError"
    assert confirmed["code"] == "ENROLMENT_CODE_REQUIRED"
    assert roles == ["USER"]


async def test_a_plain_user_still_enrols_without_a_code(gql: GraphQLClient) -> None:
    user = await sign_up(gql, "careful")

    begun = await _begin(gql, user.token)
    confirmed = await _confirm(gql, user.token, begun["secret"])

    assert confirmed["__typename"] == "TotpEnabled"


async def test_codes_are_not_issued_for_oneself_nor_for_an_account_with_totp(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    other_admin = await make_staff(gql, services, "chief", "ADMIN")
    nobody = "QWNjb3VudDo5OTk5OTk="  # Account:999999

    own = await _issue(gql, admin, admin)
    enrolled = await _issue(gql, admin, other_admin)
    variables = {"input": {"accountId": nobody, "reason": "onboarding"}}
    missing = (await gql.execute(ISSUE, variables, token=admin.token))["issueTotpEnrolmentCode"]
    no_reason = (
        await gql.execute(
            ISSUE, {"input": {"accountId": other_admin.id, "reason": ""}}, token=admin.token
        )
    )["issueTotpEnrolmentCode"]

    assert own == {
        "__typename": "NotAllowedError",
        "code": "CANNOT_CHANGE_OWN_ROLES",
        "field": None,
    }
    assert enrolled == {
        "__typename": "ConflictError",
        "code": "TOTP_ALREADY_ENABLED",
        "field": None,
    }
    assert missing == {"__typename": "NotFoundError", "code": "NOT_FOUND", "field": "accountId"}
    assert no_reason["code"] == "REASON_REQUIRED"
    refusals = [e.outcome for e in await audit_entries(services, "totp.enrolment_code")]
    assert refusals == [
        "refused:CANNOT_CHANGE_OWN_ROLES",
        "refused:TOTP_ALREADY_ENABLED",
        "refused:NOT_FOUND",
        "refused:REASON_REQUIRED",
    ]
