"""Field permissions: signing in, and the `@requiresRole` directive with the one permission
that enforces it. The directive is visible in the SDL on every gated field; the check fails
closed (no viewer, no role, no second factor or any error while checking: refused)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any, cast

import strawberry
from graphql import GraphQLError, GraphQLSchema, Node
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location
from strawberry.types.field import StrawberryField

from models.access.roles import Role
from resolvers.context import Context, Info, NotAuthenticated
from resolvers.staff import audit_refusal


class IsAuthenticated(BasePermission):
    message = (
        "Log in first: send `Authorization: Bearer <token>` over HTTP, or "
        "`authorization` in the WebSocket `connection_init` payload."
    )
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None


@strawberry.enum(name="Role", description="What an account may do. Every account is a USER.")
class RoleName(Enum):
    USER = strawberry.enum_value("USER", description="Any signed-in account.")
    SUPPORT = strawberry.enum_value(
        "SUPPORT", description="Support staff: account lookup, sessions, history."
    )
    MODERATOR = strawberry.enum_value(
        "MODERATOR", description="Moderators: reports, the queue, strikes and suspensions."
    )
    BILLING_ADMIN = strawberry.enum_value(
        "BILLING_ADMIN", description="Billing staff: customers, invoices and refunds."
    )
    ADMIN = strawberry.enum_value(
        "ADMIN", description="Administrators: roles, integrations, exports, statistics."
    )
    AUDITOR = strawberry.enum_value(
        "AUDITOR", description="Read-only staff: the audit log and history, nothing else."
    )

    @property
    def role(self) -> Role:
        return Role(cast(str, self.value))


@strawberry.schema_directive(
    name="requiresRole",
    locations=[Location.FIELD_DEFINITION],
    description="Only a viewer holding one of `roles` may use this field; staff roles count "
    "only in a session that proved a second factor (TOTP). Others get a FORBIDDEN error.",
)
class RequiresRoleDirective:
    roles: list[RoleName] = strawberry.field(
        description="The roles allowed; holding any one is enough."
    )


class Forbidden(GraphQLError):
    def __init__(self, message: str, reason: str, nodes: list[Node] | None = None) -> None:
        super().__init__(message, nodes=nodes, extensions={"code": "FORBIDDEN", "reason": reason})


async def role_refusal(
    context: Context, roles: frozenset[Role], field: str, nodes: list[Node] | None = None
) -> Forbidden | None:
    """Why the viewer may not use `field`, gated by `roles` (the refusal is audited), or None
    when they may. Raises NotAuthenticated without a viewer."""
    if context.viewer is None:
        raise NotAuthenticated()
    if roles & await context.roles():
        return None
    if roles & await context.stored_roles():
        await audit_refusal(context, field=field, reason="SECOND_FACTOR_REQUIRED")
        return Forbidden(
            "Staff roles need a second factor: enrol in TOTP (beginTotpEnrolment) or "
            "log in again with your TOTP code.",
            reason="SECOND_FACTOR_REQUIRED",
            nodes=nodes,
        )
    await audit_refusal(context, field=field, reason="ROLE_REQUIRED")
    names = ", ".join(sorted(r.value for r in roles))
    return Forbidden(f"This needs one of the roles {names}.", reason="ROLE_REQUIRED", nodes=nodes)


class RequiresRole(BasePermission):
    """Enforces `@requiresRole`. Build fields with `requires_role(...)`, never by hand."""

    def __init__(self, roles: Iterable[Role]) -> None:
        self.roles = frozenset(roles)
        self._directive = RequiresRoleDirective(
            roles=[RoleName(r.value) for r in sorted(self.roles, key=lambda r: r.value)]
        )

    @property
    def schema_directive(self) -> object:
        return self._directive

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context = info.context
        if context.viewer is None:
            raise NotAuthenticated()
        if not self.roles:
            return False
        field = f"{info.path.typename}.{info.field_name}"
        refusal = await role_refusal(context, self.roles, field)
        if refusal is not None:
            raise refusal
        return True


def requires_role(*roles: Role) -> list[FieldExtension]:
    """The extensions of a field gated by roles: the directive and its enforcement."""
    assert roles, "a gated field names at least one role"
    return [PermissionExtension(permissions=[RequiresRole(roles)], use_directives=True)]


def gated_fields(schema: GraphQLSchema) -> dict[str, frozenset[Role]]:
    """Every field carrying `@requiresRole`, as `Type.field` -> roles. Raises if a field
    carries the directive without the permission that enforces it (fail closed at start)."""
    gated: dict[str, frozenset[Role]] = {}
    for type_name, gtype in schema.type_map.items():
        fields = getattr(gtype, "fields", None)
        if type_name.startswith("__") or not isinstance(fields, dict):
            continue
        for field_name, gfield in fields.items():
            definition = (gfield.extensions or {}).get("strawberry-definition")
            if not isinstance(definition, StrawberryField):
                continue
            directives = [d for d in definition.directives if isinstance(d, RequiresRoleDirective)]
            if not directives:
                continue
            enforced = [
                p
                for ext in definition.extensions
                if isinstance(ext, PermissionExtension)
                for p in ext.permissions
                if isinstance(p, RequiresRole)
            ]
            declared = frozenset(r.role for d in directives for r in d.roles)
            if not enforced or any(p.roles != declared for p in enforced):
                raise RuntimeError(f"{type_name}.{field_name}: @requiresRole is not enforced")
            gated[f"{type_name}.{field_name}"] = declared
    return gated
