"""Granting and revoking staff roles (ADMIN only, audited)."""

from __future__ import annotations

from datetime import datetime
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
from schema.core.results import mutation, outcome

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


@strawberry.input(description="The account to issue a TOTP enrolment code for, and why.")
class IssueTotpEnrolmentCodeInput:
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")
    reason: str = strawberry.field(description="Why, for the audit log: 3 to 1000 characters.")


@strawberry.type(description="A single-use TOTP enrolment code, shown this once.")
class TotpEnrolmentCode:
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")
    code: str = strawberry.field(
        description="Hand it to the account's owner in person or over a channel you trust; "
        "they pass it as `enrolmentCode` to `beginTotpEnrolment`. Used once."
    )
    expires_at: datetime = strawberry.field(description="When it stops working (UTC): 24 h.")


IssueTotpEnrolmentCodeResult = Annotated[
    TotpEnrolmentCode | ValidationError | NotFoundError | NotAllowedError | ConflictError,
    outcome("issueTotpEnrolmentCode"),
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
        description="Grant a staff role. Not to oneself; audited with the reason; the owner "
        "is told by email. Idempotent. The role counts only in sessions that proved a "
        "second factor: an account without one enrols with `issueTotpEnrolmentCode`'s code.",
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

    @mutation(
        description="Issue the single-use code an account holding a staff role (or about to) "
        "needs to turn on its first second factor: valid 24 hours, replacing any unused one; "
        "not for one's own account, nor for one with TOTP already on. Audited with the "
        "reason (never the code).",
        extensions=requires_role(Role.ADMIN),
    )
    async def issue_totp_enrolment_code(
        self, info: Info, input: Annotated[IssueTotpEnrolmentCodeInput, INPUT]
    ) -> IssueTotpEnrolmentCodeResult:
        _, account_id = parse_global_id(input.account_id, expect="Account", field="accountId")
        issued = await resolvers.issue_enrolment_code(
            info.context, account_id=account_id, reason=input.reason
        )
        return TotpEnrolmentCode(
            account_id=input.account_id, code=issued.code, expires_at=issued.expires_at
        )
