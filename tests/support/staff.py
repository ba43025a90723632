"""Arranging staff: an account with roles (granted as the operator does) and TOTP on, in a
session that proved it."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyotp

from admin import commands
from app import db
from app.runtime import Services
from app.settings import Settings
from tests.support.accounts import PASSWORD, User, sign_up
from tests.support.graphql import GraphQLClient

BEGIN_TOTP = """
mutation Begin($password: String!, $enrolmentCode: String) {
  beginTotpEnrolment(input: {password: $password, enrolmentCode: $enrolmentCode}) {
    __typename
    ... on TotpEnrolment { secret provisioningUri }
    ... on UserError { code }
  }
}
"""
CONFIRM_TOTP = """
mutation Confirm($code: String!) {
  confirmTotpEnrolment(input: {code: $code}) {
    __typename
    ... on TotpEnabled { recoveryCodes }
    ... on UserError { code message }
  }
}
"""


@dataclass(frozen=True)
class Staff(User):
    secret: str
    recovery_codes: tuple[str, ...]


def totp_code(secret: str, steps_ahead: int = 0) -> str:
    """The code for the current 30-second step, or one a step ahead (still accepted)."""
    totp = pyotp.TOTP(secret)
    return totp.at(int(time.time()) + steps_ahead * totp.interval)


def wrong_code(secret: str) -> str:
    """A well-formed code that no step within the accepted drift matches."""
    near = {totp_code(secret, steps) for steps in range(-2, 3)}
    return next(
        c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c not in near
    )


async def enrol_totp(
    gql: GraphQLClient, user: User, enrolment_code: str | None = None
) -> tuple[str, tuple[str, ...]]:
    """Turn TOTP on (with an ADMIN's enrolment code for an account holding a staff role)."""
    variables = {"password": PASSWORD, "enrolmentCode": enrolment_code}
    begun = (await gql.execute(BEGIN_TOTP, variables, token=user.token))["beginTotpEnrolment"]
    assert begun["__typename"] == "TotpEnrolment", begun
    confirmed = (
        await gql.execute(CONFIRM_TOTP, {"code": totp_code(begun["secret"])}, token=user.token)
    )["confirmTotpEnrolment"]
    assert confirmed["__typename"] == "TotpEnabled", confirmed
    return begun["secret"], tuple(confirmed["recoveryCodes"])


async def grant(services: Services, handle: str, *roles: str) -> None:
    for role in roles:
        await commands.change_role(
            services.runtime.sessionmaker,
            handle=handle,
            role=role,
            reason="test arrangement",
            grant=True,
        )


async def make_staff(gql: GraphQLClient, services: Services, handle: str, *roles: str) -> Staff:
    """A signed-up account holding `roles`, with TOTP on and a session that proved it. TOTP
    comes first: once the account holds a staff role, enrolling needs an ADMIN's code."""
    user = await sign_up(gql, handle)
    secret, codes = await enrol_totp(gql, user)
    await grant(services, handle, *roles)
    return Staff(
        id=user.id, handle=user.handle, token=user.token, secret=secret, recovery_codes=codes
    )


async def grant_as_operator(database_url: str, handle: str, role: str) -> None:
    """Grant a role straight in a database a separate `chirp serve` uses, as the operator's
    `chirp admin grant-role` would (the test settings' audit key is the server's)."""
    settings = Settings(env="test", database_url=database_url)
    engine = db.create_engine(settings)
    try:
        await commands.change_role(
            db.create_sessionmaker(engine, audit_key=settings.audit_chain_key),
            handle=handle,
            role=role,
            reason="test arrangement",
            grant=True,
        )
    finally:
        await engine.dispose()
