"""Staff roles: who holds which (ADMIN grants and revokes, audited)."""

from admin.roles.account_fields import AccountRoleFields
from admin.roles.fields import RoleMutations, RoleQueries
from schema.core.surface import Surface

SURFACE = Surface(
    queries=(RoleQueries,), mutations=(RoleMutations,), account_fields=(AccountRoleFields,)
)
