"""TOTP: enrolment, log-in with a code or a recovery code, reuse and expiry, turning it off."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from app.runtime import Services
from app.settings import Settings
from models.audit.tables import AuditEntry
from tests.conftest import make_settings
from tests.support.accounts import PASSWORD, sign_up
from tests.support.backends import Database
from tests.support.graphql import GraphQLClient
from tests.support.staff import (
    BEGIN_TOTP,
    CONFIRM_TOTP,
    enrol_totp,
    grant,
    make_staff,
    totp_code,
    wrong_code,
)

LOG_IN = """
mutation LogIn($input: LogInInput!) {
  logIn(input: $input) {
    __typename
    ... on SessionPayload { token }
    ... on UserError { code field }
  }
}
"""
STATUS = "query { twoFactor { enabled recoveryCodesLeft sessionVerified } }"
DISABLE = """
mutation Disable($code: String!, $password: String! = "correct horse battery") {
  disableTotp(input: {code: $code, password: $password}) { __typename ... on UserError { code } }
}
"""
ROLES_OF = "query ($id: ID!) { node(id: $id) { ... on Account { roles } } }"


async def _log_in(gql: GraphQLClient, handle: str, **factor: str) -> dict[str, Any]:
    variables = {"input": {"login": handle, "password": PASSWORD, **factor}}
    result: dict[str, Any] = (await gql.execute(LOG_IN, variables))["logIn"]
    return result


async def test_enrolment_needs_a_correct_code_and_returns_recovery_codes(
    gql: GraphQLClient,
) -> None:
    user = await sign_up(gql, "careful")
    begun = (await gql.execute(BEGIN_TOTP, {"password": PASSWORD}, token=user.token))[
        "beginTotpEnrolment"
    ]
    assert begun["provisioningUri"].startswith("otpauth://totp/Chirp:careful?secret=")
    wrong = wrong_code(begun["secret"])

    refused = (await gql.execute(CONFIRM_TOTP, {"code": wrong}, token=user.token))[
        "confirmTotpEnrolment"
    ]
    confirmed = (
        await gql.execute(CONFIRM_TOTP, {"code": totp_code(begun["secret"])}, token=user.token)
    )["confirmTotpEnrolment"]
    again = (await gql.execute(BEGIN_TOTP, {"password": PASSWORD}, token=user.token))[
        "beginTotpEnrolment"
    ]

    assert refused == {
        "__typename": "AuthenticationError",
        "code": "INVALID_TOTP_CODE",
        "message": refused["message"],
    }
    assert confirmed["__typename"] == "TotpEnabled"
    assert len(set(confirmed["recoveryCodes"])) == 10
    assert again == {"__typename": "ConflictError", "code": "TOTP_ALREADY_ENABLED"}
    status = (await gql.execute(STATUS, token=user.token))["twoFactor"]
    assert status == {"enabled": True, "recoveryCodesLeft": 10, "sessionVerified": True}


async def test_log_in_needs_the_second_factor_once_it_is_on(gql: GraphQLClient) -> None:
    user = await sign_up(gql, "careful")
    secret, _ = await enrol_totp(gql, user)

    missing = await _log_in(gql, "careful")
    ok = await _log_in(gql, "careful", totpCode=totp_code(secret, steps_ahead=1))

    assert (missing["code"], missing["field"]) == ("SECOND_FACTOR_REQUIRED", "totpCode")
    assert ok["__typename"] == "SessionPayload"
    status = (await gql.execute(STATUS, token=ok["token"]))["twoFactor"]
    assert status["sessionVerified"] is True


async def test_a_code_works_once_and_an_old_code_not_at_all(gql: GraphQLClient) -> None:
    user = await sign_up(gql, "careful")
    secret, _ = await enrol_totp(gql, user)
    code = totp_code(secret, steps_ahead=1)
    stale = totp_code(secret, steps_ahead=-5)

    first = await _log_in(gql, "careful", totpCode=code)
    reused = await _log_in(gql, "careful", totpCode=code)
    expired = await _log_in(gql, "careful", totpCode=stale)
    garbage = await _log_in(gql, "careful", totpCode="12ab56")

    assert first["__typename"] == "SessionPayload"
    assert reused["code"] == "TOTP_CODE_REUSED"
    assert expired["code"] == "INVALID_TOTP_CODE"
    assert garbage["code"] == "INVALID_TOTP_CODE"


async def test_a_recovery_code_works_once(gql: GraphQLClient) -> None:
    user = await sign_up(gql, "careful")
    _, codes = await enrol_totp(gql, user)

    first = await _log_in(gql, "careful", recoveryCode=codes[0].lower())
    again = await _log_in(gql, "careful", recoveryCode=codes[0])

    assert first["__typename"] == "SessionPayload"
    assert (again["code"], again["field"]) == ("INVALID_TOTP_CODE", "recoveryCode")
    status = (await gql.execute(STATUS, token=first["token"]))["twoFactor"]
    assert status["recoveryCodesLeft"] == 9


async def test_a_staff_members_failed_second_factor_is_audited(
    gql: GraphQLClient, services: Services
) -> None:
    staff = await make_staff(gql, services, "helper", "SUPPORT")
    code = totp_code(staff.secret, steps_ahead=1)
    await _log_in(gql, "helper", totpCode=code)

    reused = await _log_in(gql, "helper", totpCode=code)

    assert reused["code"] == "TOTP_CODE_REUSED"
    async with services.runtime.read_sessionmaker() as session:
        entry = await session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry is not None
    assert (entry.action, entry.outcome, entry.actor_handle) == (
        "auth.second_factor",
        "refused:TOTP_CODE_REUSED",
        "helper",
    )


async def test_a_plain_users_failed_code_is_not_audited(
    gql: GraphQLClient, services: Services
) -> None:
    user = await sign_up(gql, "careful")
    secret, _ = await enrol_totp(gql, user)

    await _log_in(gql, "careful", totpCode=wrong_code(secret))

    async with services.runtime.read_sessionmaker() as session:
        assert list(await session.scalars(select(AuditEntry.action))) == []


async def test_turning_totp_off_needs_a_code_and_staff_cannot(
    gql: GraphQLClient, services: Services
) -> None:
    user = await sign_up(gql, "careful")
    secret, _ = await enrol_totp(gql, user)
    staff = await make_staff(gql, services, "helper", "SUPPORT")

    wrong = (await gql.execute(DISABLE, {"code": wrong_code(secret)}, token=user.token))[
        "disableTotp"
    ]
    off = (await gql.execute(DISABLE, {"code": totp_code(secret, 1)}, token=user.token))[
        "disableTotp"
    ]
    staff_off = (
        await gql.execute(DISABLE, {"code": totp_code(staff.secret, 1)}, token=staff.token)
    )["disableTotp"]

    assert wrong["code"] == "INVALID_TOTP_CODE"
    assert off == {"__typename": "TotpDisabled"}
    assert staff_off == {"__typename": "NotAllowedError", "code": "STAFF_NEEDS_TOTP"}
    assert (await _log_in(gql, "careful"))["__typename"] == "SessionPayload"


async def test_two_factor_needs_a_viewer(gql: GraphQLClient) -> None:
    errors = await gql.errors(BEGIN_TOTP, {"password": PASSWORD})
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_turning_totp_on_or_off_needs_the_password(gql: GraphQLClient) -> None:
    user = await sign_up(gql, "careful")
    refused = (await gql.execute(BEGIN_TOTP, {"password": "not the password"}, token=user.token))[
        "beginTotpEnrolment"
    ]
    secret, _ = await enrol_totp(gql, user)
    variables = {"code": totp_code(secret, 1), "password": "not the password"}
    kept = (await gql.execute(DISABLE, variables, token=user.token))["disableTotp"]

    assert refused == {"__typename": "AuthenticationError", "code": "INVALID_CREDENTIALS"}
    assert kept == {"__typename": "AuthenticationError", "code": "INVALID_CREDENTIALS"}
    assert (await gql.execute(STATUS, token=user.token))["twoFactor"]["enabled"] is True


async def test_wrong_codes_are_limited(gql: GraphQLClient) -> None:
    user = await sign_up(gql, "careful")
    secret, _ = await enrol_totp(gql, user)
    wrong = wrong_code(secret)

    answers = [(await _log_in(gql, "careful", totpCode=wrong))["code"] for _ in range(10)]
    locked = await _log_in(gql, "careful", totpCode=totp_code(secret, 1))

    assert answers == ["INVALID_TOTP_CODE"] * 10
    assert (locked["code"], locked["field"]) == ("TOO_MANY_ATTEMPTS", "totpCode")


async def test_a_session_verified_before_totp_was_turned_off_gains_no_staff_role(
    gql: GraphQLClient, services: Services
) -> None:
    user = await sign_up(gql, "careful")
    secret, _ = await enrol_totp(gql, user)
    off = await gql.execute(DISABLE, {"code": totp_code(secret, 1)}, token=user.token)
    assert off["disableTotp"] == {"__typename": "TotpDisabled"}

    await grant(services, "careful", "MODERATOR")

    status = (await gql.execute(STATUS, token=user.token))["twoFactor"]
    errors = await gql.errors(ROLES_OF, {"id": user.id}, token=user.token)
    assert status == {"enabled": False, "recoveryCodesLeft": 0, "sessionVerified": False}
    assert errors[0]["extensions"] == {"code": "FORBIDDEN", "reason": "SECOND_FACTOR_REQUIRED"}


@pytest.fixture
def settings(database: Database) -> Settings:
    """Password checks for one account and address may all run at once here (a process
    allows 2 and 4 by default): the concurrency test below is about the TOTP counter behind
    them."""
    return make_settings(database, login_in_flight_per_account=16, login_in_flight_per_address=16)


async def test_concurrent_wrong_codes_are_each_counted(gql: GraphQLClient) -> None:
    user = await sign_up(gql, "careful")
    secret, _ = await enrol_totp(gql, user)
    wrong = wrong_code(secret)

    answers = await asyncio.gather(*(_log_in(gql, "careful", totpCode=wrong) for _ in range(16)))

    codes = sorted(a["code"] for a in answers)
    assert codes == ["INVALID_TOTP_CODE"] * 10 + ["TOO_MANY_ATTEMPTS"] * 6


async def test_wrong_codes_to_turn_totp_off_count_too(gql: GraphQLClient) -> None:
    user = await sign_up(gql, "careful")
    secret, _ = await enrol_totp(gql, user)
    wrong = {"code": wrong_code(secret)}

    answers = [
        (await gql.execute(DISABLE, wrong, token=user.token))["disableTotp"]["code"]
        for _ in range(11)
    ]
    locked = await _log_in(gql, "careful", totpCode=totp_code(secret, 1))

    assert answers == ["INVALID_TOTP_CODE"] * 10 + ["TOO_MANY_ATTEMPTS"]
    assert locked["code"] == "TOO_MANY_ATTEMPTS"
