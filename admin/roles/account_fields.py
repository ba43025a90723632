"""Staff fields on `Account`, declared here and mixed into the one `Account` type by the
composition (`app.schema`) so gated fields stay where they belong in the graph."""

from __future__ import annotations

import strawberry

from models.access import actions as access
from models.access.roles import STAFF_ROLES
from resolvers.context import Info
from schema.core.permissions import RoleName, requires_role
from schema.graph.types import account_id_of

ANY_STAFF = tuple(sorted(STAFF_ROLES, key=lambda r: r.value))


@strawberry.type
class AccountRoleFields:
    @strawberry.field(
        description="Every role this account holds, USER included.",
        extensions=requires_role(*ANY_STAFF),
    )
    async def roles(self, info: Info) -> list[RoleName]:
        async with info.context.read() as session:
            roles = await access.roles_of(session, account_id=account_id_of(self))
        return [RoleName(r.value) for r in sorted(roles, key=lambda r: r.value)]
