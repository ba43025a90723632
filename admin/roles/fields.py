"""Granting and revoking staff roles (ADMIN only, audited)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from models.access.roles import STAFF_ROLES, Role
from resolvers import access as resolvers
from resolvers.context import Info
from resolvers.paging import parse_global_id
from schema.core.errors import (
    INPUT,
    ConflictError,
    NotAllowedError,
    NotFoundError,
    ValidationError,
)
from schema.core.permissions import IsAuthenticated, RoleName, requires_role
from schema.core.results import mutation

STAFF = tuple(sorted(STAFF_ROLES, key=lambda r: r.value))


@strawberry.input(description="A role to grant or revoke, and why.")
class ChangeRoleInput:
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")
    role: RoleName = strawberry.field(description="A staff role; USER cannot be granted.")
    reason: str = strawberry.field(description="Why, for the audit log: 3 to 1000 characters.")


@strawberry.type(description="An account's roles after a change.")
class RolesPayload:
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")
    roles: list[RoleName] = strawberry.field(description="Every role it holds, USER included.")


ChangeRoleResult = Annotated[
    RolesPayload | ValidationError | NotFoundError | NotAllowedError | ConflictError,
    strawberry.union(
        "ChangeRoleResult",
        description="The outcome of `grantRole` or `revokeRole`: its payload or a UserError.",
    ),
]


def role_names(roles: frozenset[Role]) -> list[RoleName]:
    return [RoleName(r.value) for r in sorted(roles, key=lambda r: r.value)]


async def _change(info: Info, input: ChangeRoleInput, *, grant: bool) -> ChangeRoleResult:
    _, account_id = parse_global_id(input.account_id, expect="Account", field="accountId")
    roles = await resolvers.change_role(
        info.context,
        account_id=account_id,
        role=input.role.role.value,
        grant=grant,
        reason=input.reason,
    )
    return RolesPayload(account_id=input.account_id, roles=role_names(roles))


@strawberry.type
class RoleQueries:
    @strawberry.field(
        description="The roles that count for the viewer in this session (staff roles only "
        "after a second factor).",
        permission_classes=[IsAuthenticated],
    )
    async def viewer_roles(self, info: Info) -> list[RoleName]:
        return role_names(await info.context.roles())


@strawberry.type
class RoleMutations:
    @mutation(
        description="Grant a staff role. Not to oneself; audited with the reason. Idempotent.",
        extensions=requires_role(Role.ADMIN),
    )
    async def grant_role(
        self, info: Info, input: Annotated[ChangeRoleInput, INPUT]
    ) -> ChangeRoleResult:
        return await _change(info, input, grant=True)

    @mutation(
        description="Revoke a staff role. Not one's own, not the last ADMIN; audited with the "
        "reason. Idempotent.",
        extensions=requires_role(Role.ADMIN),
    )
    async def revoke_role(
        self, info: Info, input: Annotated[ChangeRoleInput, INPUT]
    ) -> ChangeRoleResult:
        return await _change(info, input, grant=False)
