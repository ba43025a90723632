"""Every gated field, called as anonymous, a plain user, each staff role, and staff whose
session skipped the second factor: allowed or refused exactly as its `@requiresRole` says.
The fields come from the schema itself, so a new gated field needs a matrix call."""

from __future__ import annotations

from typing import Any

import pytest

from app.runtime import Services
from app.schema import build_schema
from models.access.roles import STAFF_ROLES, Role
from schema.core.permissions import gated_fields
from tests.support.accounts import User, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.matrix import Call, MatrixEnv, merged
from tests.support.staff import grant, make_staff

GATED = gated_fields(build_schema()._schema)
CALLS = merged()
DENIED = {"FORBIDDEN", "UNAUTHENTICATED"}


def test_every_gated_field_has_a_matrix_call() -> None:
    assert set(GATED) - set(CALLS) == set(), "add a call to tests/support/matrix_*.py"
    assert set(CALLS) - set(GATED) == set(), "a matrix call names a field that is not gated"
    misnamed = [f for f, call in CALLS.items() if call.path[-1] != f.split(".")[1]]
    assert misnamed == [], "a matrix call's path must end with its gated field"


def _refusal(payload: dict[str, Any], call: Call) -> str | None:
    """FORBIDDEN or UNAUTHENTICATED from the gated field (or its stand-in); a refusal from
    any other field of the document says nothing about this one."""
    for error in payload.get("errors", []):
        code = (error.get("extensions") or {}).get("code")
        if code in DENIED and call.decides(error.get("path")):
            return str(code)
    return None


ROLES = Call(
    "query ($id: ID!) { node(id: $id) { ... on Account { roles } } }", path=("node", "roles")
)


async def test_each_persona_is_allowed_exactly_what_the_directive_says(
    gql: GraphQLClient, services: Services
) -> None:
    personas: dict[str, tuple[str | None, frozenset[Role]]] = {"anonymous": (None, frozenset())}
    plain = await sign_up(gql, "matrix_user")
    personas["USER"] = (plain.token, frozenset({Role.USER}))
    admin: User | None = None
    for role in sorted(STAFF_ROLES, key=lambda r: r.value):
        staff = await make_staff(gql, services, f"matrix_{role.value.lower()}", role.value)
        personas[role.value] = (staff.token, frozenset({Role.USER, role}))
        if role is Role.ADMIN:
            admin = User(staff.id, staff.handle, staff.token)
    # All staff roles, but a session that never proved a second factor: USER only.
    unverified = await sign_up(gql, "matrix_no_2fa")
    await grant(services, unverified.handle, *(r.value for r in STAFF_ROLES))
    personas["staff without 2FA"] = (unverified.token, frozenset({Role.USER}))
    target = await sign_up(gql, "matrix_target")
    assert admin is not None
    env = MatrixEnv(gql=gql, services=services, target=target, admin=admin)

    wrong: list[str] = []
    for field, roles in sorted(GATED.items()):
        call = CALLS[field]
        for persona, (token, held) in personas.items():
            variables = await call.arrange(env)
            response = await gql.post(call.document, variables, token=token)
            assert response.status_code < 500, (field, persona, response.text)
            refusal = _refusal(response.json(), call)
            allowed = bool(held & roles)
            if allowed and refusal is not None:
                wrong.append(f"{field}: {persona} refused ({refusal}) but the directive allows it")
            if not allowed and refusal is None:
                wrong.append(f"{field}: {persona} allowed but the directive refuses it")
            if token is None and not allowed and refusal != "UNAUTHENTICATED":
                wrong.append(f"{field}: anonymous got {refusal}, not UNAUTHENTICATED")
    assert wrong == []


@pytest.mark.parametrize("role", ["SUPPORT", "ADMIN"])
async def test_a_revoked_role_stops_at_once(
    gql: GraphQLClient, services: Services, role: str
) -> None:
    staff = await make_staff(gql, services, "revokee", role)
    before = await gql.post(ROLES.document, {"id": staff.id}, token=staff.token)
    assert _refusal(before.json(), ROLES) is None

    from admin import commands

    if role != "ADMIN":
        await commands.change_role(
            services.runtime.sessionmaker, handle="revokee", role=role, reason="left", grant=False
        )
    else:  # an ADMIN loses the role through the API, to another ADMIN
        other = await make_staff(gql, services, "other_admin", "ADMIN")
        revoke = "mutation ($i: ChangeRoleInput!) { revokeRole(input: $i) { __typename } }"
        await gql.execute(
            revoke,
            {"i": {"accountId": staff.id, "role": "ADMIN", "reason": "left the team"}},
            token=other.token,
        )

    after = await gql.post(ROLES.document, {"id": staff.id}, token=staff.token)
    assert _refusal(after.json(), ROLES) == "FORBIDDEN"
