"""Who may configure integrations and export data: ADMIN only."""

from __future__ import annotations

from collections.abc import Collection

from models.access.roles import Role
from models.errors import NotAllowed


def may_manage_integrations(roles: Collection[Role]) -> bool:
    return Role.ADMIN in roles


def may_export_accounts(roles: Collection[Role]) -> bool:
    return Role.ADMIN in roles


def check(allowed: bool) -> None:
    """The schema's role directive already refused others; this keeps the domain safe when
    it is called from elsewhere."""
    if not allowed:
        raise NotAllowed("Only an ADMIN manages integrations and exports.")
