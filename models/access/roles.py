"""The roles an account can hold and how they rank against each other."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class Role(Enum):
    USER = "USER"
    SUPPORT = "SUPPORT"
    MODERATOR = "MODERATOR"
    BILLING_ADMIN = "BILLING_ADMIN"
    ADMIN = "ADMIN"
    AUDITOR = "AUDITOR"


# Every account holds USER implicitly; the others are granted (by an ADMIN) and stored.
STAFF_ROLES = frozenset(Role) - {Role.USER}

# Who may act on whom: a staff member never acts on an account that outranks them.
RANK: dict[Role, int] = {
    Role.USER: 0,
    Role.AUDITOR: 1,
    Role.SUPPORT: 1,
    Role.MODERATOR: 2,
    Role.BILLING_ADMIN: 2,
    Role.ADMIN: 3,
}


def rank_of(roles: Iterable[Role]) -> int:
    """An account's rank is its highest role's."""
    return max((RANK[r] for r in roles), default=0)


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Stored role names as roles, always including USER; unknown names are ignored."""
    known = {r.value: r for r in Role}
    return frozenset({Role.USER, *(known[n] for n in names if n in known)})
