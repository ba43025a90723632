"""Yes/no rules about roles: who may act on whom, and which roles count in a session."""

from __future__ import annotations

from collections.abc import Collection

from models.access import errors
from models.access.roles import STAFF_ROLES, Role, rank_of


def effective_roles(stored: Collection[Role], *, second_factor: bool) -> frozenset[Role]:
    """Staff roles count only in a session that proved a second factor."""
    if second_factor:
        return frozenset({Role.USER, *stored})
    return frozenset({Role.USER})


def is_staff(roles: Collection[Role]) -> bool:
    return any(r in STAFF_ROLES for r in roles)


def may_act_on(actor_roles: Collection[Role], target_roles: Collection[Role]) -> bool:
    """A staff member acts only on accounts that do not outrank them."""
    return rank_of(target_roles) <= rank_of(actor_roles)


def check_may_act_on(actor_roles: Collection[Role], target_roles: Collection[Role]) -> None:
    if not may_act_on(actor_roles, target_roles):
        raise errors.OutranksActor("That account holds a higher rank than yours.")


def may_manage_roles(actor_roles: Collection[Role]) -> bool:
    return Role.ADMIN in actor_roles
