"""Granting and revoking roles: ADMIN only, never one's own, always with a reason, audited."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from admin import commands
from app.runtime import Services
from models.access.errors import LastAdmin
from models.access.tables import AccountRole
from models.audit.tables import AuditEntry
from resolvers.paging import parse_global_id
from tests.support.accounts import sign_up
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff

GRANT = """
mutation Grant($input: ChangeRoleInput!) {
  grantRole(input: $input) {
    __typename
    ... on RolesPayload { accountId roles }
    ... on UserError { code field message }
  }
}
"""
REVOKE = GRANT.replace("grantRole", "revokeRole").replace("Grant(", "Revoke(")
ROLES_OF = "query ($id: ID!) { node(id: $id) { ... on Account { roles } } }"
VIEWER_ROLES = "query { viewerRoles }"


def _input(
    account_id: str, role: str = "SUPPORT", reason: str | None = "new hire"
) -> dict[str, Any]:
    return {"input": {"accountId": account_id, "role": role, "reason": reason or ""}}


async def _entries(services: Services) -> list[AuditEntry]:
    async with services.runtime.read_sessionmaker() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


async def test_an_admin_grants_a_role_and_the_change_is_audited(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    hire = await sign_up(gql, "hire")

    result = (await gql.execute(GRANT, _input(hire.id), token=admin.token))["grantRole"]

    assert result == {
        "__typename": "RolesPayload",
        "accountId": hire.id,
        "roles": ["SUPPORT", "USER"],
    }
    entry = (await _entries(services))[-1]
    assert (entry.action, entry.outcome, entry.actor_handle, entry.reason) == (
        "role.grant",
        "ok",
        "boss",
        "new hire",
    )
    assert entry.actor_roles == ["ADMIN", "USER"]
    assert (entry.before, entry.after) == ({"roles": ["USER"]}, {"roles": ["SUPPORT", "USER"]})
    assert entry.ip == "203.0.113.7" and entry.request_id


async def test_granting_twice_changes_nothing_the_second_time(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    hire = await sign_up(gql, "hire")
    await gql.execute(GRANT, _input(hire.id), token=admin.token)
    before = len(await _entries(services))

    again = (await gql.execute(GRANT, _input(hire.id), token=admin.token))["grantRole"]

    assert again["roles"] == ["SUPPORT", "USER"]
    assert len(await _entries(services)) == before


async def test_a_granted_role_counts_only_after_the_second_factor(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    hire = await sign_up(gql, "hire")
    await gql.execute(GRANT, _input(hire.id), token=admin.token)

    assert (await gql.execute(VIEWER_ROLES, token=hire.token))["viewerRoles"] == ["USER"]
    errors = await gql.errors(ROLES_OF, {"id": hire.id}, token=hire.token)
    assert errors[0]["extensions"] == {"code": "FORBIDDEN", "reason": "SECOND_FACTOR_REQUIRED"}


async def test_revoking_a_role(gql: GraphQLClient, services: Services) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    hire = await make_staff(gql, services, "hire", "SUPPORT", "MODERATOR")

    result = (
        await gql.execute(REVOKE, _input(hire.id, "MODERATOR", "moved teams"), token=admin.token)
    )["revokeRole"]

    assert result["roles"] == ["SUPPORT", "USER"]
    assert (await gql.execute(VIEWER_ROLES, token=hire.token))["viewerRoles"] == ["SUPPORT", "USER"]
    entry = (await _entries(services))[-1]
    assert (entry.action, entry.reason, entry.after) == (
        "role.revoke",
        "moved teams",
        {"roles": ["SUPPORT", "USER"]},
    )


async def test_nobody_changes_their_own_roles_and_the_attempt_is_audited(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")

    result = (await gql.execute(GRANT, _input(admin.id, "AUDITOR"), token=admin.token))["grantRole"]

    assert (result["__typename"], result["code"]) == ("NotAllowedError", "CANNOT_CHANGE_OWN_ROLES")
    entry = (await _entries(services))[-1]
    assert (entry.action, entry.outcome, entry.target_id) == (
        "role.grant",
        "refused:CANNOT_CHANGE_OWN_ROLES",
        str(parse_global_id(admin.id, expect="Account", field="id")[1]),
    )


async def test_bad_input_gets_typed_errors_and_leaves_a_trace(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    hire = await sign_up(gql, "hire")
    ghost = "QWNjb3VudDo5OTk5OTk="  # Account:999999

    no_reason = (await gql.execute(GRANT, _input(hire.id, reason=" "), token=admin.token))[
        "grantRole"
    ]
    user_role = (await gql.execute(GRANT, _input(hire.id, "USER"), token=admin.token))["grantRole"]
    unknown = (await gql.execute(GRANT, _input(ghost), token=admin.token))["grantRole"]

    assert (no_reason["code"], no_reason["field"]) == ("REASON_REQUIRED", "reason")
    assert (user_role["code"], user_role["field"]) == ("INVALID_ROLE", "role")
    assert (unknown["__typename"], unknown["code"]) == ("NotFoundError", "NOT_FOUND")
    outcomes = [e.outcome for e in await _entries(services)][-3:]
    assert outcomes == ["refused:REASON_REQUIRED", "refused:INVALID_ROLE", "refused:NOT_FOUND"]


async def test_the_last_admin_cannot_be_revoked(gql: GraphQLClient, services: Services) -> None:
    first = await make_staff(gql, services, "first", "ADMIN")
    second = await make_staff(gql, services, "second", "ADMIN")
    ok = (await gql.execute(REVOKE, _input(first.id, "ADMIN", "handing over"), token=second.token))[
        "revokeRole"
    ]
    assert ok["roles"] == ["USER"]
    third = await make_staff(gql, services, "third", "SUPPORT")

    # `second` is now the only ADMIN: it cannot revoke itself, a non-admin cannot, and the
    # operator at the command line is stopped before leaving nobody in charge.
    last = (await gql.execute(REVOKE, _input(second.id, "ADMIN", "oops"), token=second.token))[
        "revokeRole"
    ]
    assert last["code"] == "CANNOT_CHANGE_OWN_ROLES"
    refused = await gql.errors(REVOKE, _input(second.id, "ADMIN", "coup"), token=third.token)
    assert refused[0]["extensions"]["code"] == "FORBIDDEN"
    with pytest.raises(LastAdmin):
        await commands.change_role(
            services.runtime.sessionmaker,
            handle="second",
            role="ADMIN",
            reason="cleanup",
            grant=False,
        )
    assert (await gql.execute(VIEWER_ROLES, token=second.token))["viewerRoles"] == ["ADMIN", "USER"]


async def test_without_permission(gql: GraphQLClient, services: Services) -> None:
    hire = await sign_up(gql, "hire")
    support = await make_staff(gql, services, "helper", "SUPPORT")

    anonymous = await gql.errors(GRANT, _input(hire.id))
    plain = await gql.errors(GRANT, _input(hire.id), token=hire.token)
    staff = await gql.errors(GRANT, _input(hire.id), token=support.token)

    assert anonymous[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert plain[0]["extensions"] == {"code": "FORBIDDEN", "reason": "ROLE_REQUIRED"}
    assert staff[0]["extensions"] == {"code": "FORBIDDEN", "reason": "ROLE_REQUIRED"}
    assert (await gql.execute(VIEWER_ROLES, token=hire.token))["viewerRoles"] == ["USER"]


async def test_a_staff_members_refusal_by_the_directive_is_audited(
    gql: GraphQLClient, services: Services
) -> None:
    user = await sign_up(gql, "user")
    moderator = await make_staff(gql, services, "mod", "MODERATOR")

    await gql.errors(GRANT, _input(moderator.id, "ADMIN", "promote me"), token=moderator.token)
    await gql.errors(GRANT, _input(user.id, "ADMIN", "promote me"), token=user.token)

    [entry] = [e for e in await _entries(services) if e.action == "access.refused"]
    assert (entry.actor_handle, entry.target_type, entry.target_id, entry.outcome) == (
        "mod",
        "field",
        "Mutation.grantRole",
        "refused:ROLE_REQUIRED",
    )


async def test_two_admins_revoking_each_other_at_once_leave_one(
    gql: GraphQLClient, services: Services
) -> None:
    first = await make_staff(gql, services, "first", "ADMIN")
    second = await make_staff(gql, services, "second", "ADMIN")

    responses = await asyncio.gather(
        gql.post(REVOKE, _input(second.id, "ADMIN", "handing over"), token=first.token),
        gql.post(REVOKE, _input(first.id, "ADMIN", "handing over"), token=second.token),
    )

    async with services.runtime.read_sessionmaker() as session:
        admins = list(
            await session.scalars(select(AccountRole.account_id).where(AccountRole.role == "ADMIN"))
        )
    payloads = [r.json().get("data", {}).get("revokeRole") or {} for r in responses]
    assert len(admins) == 1
    # One revoke lands; the other meets the last-admin rule, or finds its own role gone.
    assert sorted(p.get("__typename", "refused") for p in payloads).count("RolesPayload") == 1
