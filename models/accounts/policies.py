"""Who may read an account's private data: its owner, or staff holding the right role.
A staff read is answered, and audited by the caller; anyone else gets nothing."""

from __future__ import annotations

from collections.abc import Collection
from enum import Enum

from models.access.roles import Role

# Support answers owners' questions about their login email; an ADMIN may always look.
EMAIL_READERS = frozenset({Role.SUPPORT, Role.ADMIN})
# History (who changed a profile or a post, and when) serves support, moderation and audit.
HISTORY_READERS = frozenset({Role.SUPPORT, Role.MODERATOR, Role.ADMIN, Role.AUDITOR})


class Reader(Enum):
    """Why a viewer may read private data; a STAFF read must be audited."""

    OWNER = "owner"
    STAFF = "staff"


def owner_or_staff(
    *, viewer_id: int | None, owner_id: int, roles: Collection[Role], staff: frozenset[Role]
) -> Reader | None:
    """OWNER for the owner, STAFF for a viewer holding one of `staff` (roles that count in
    this session), None for anyone else."""
    if viewer_id is not None and viewer_id == owner_id:
        return Reader.OWNER
    if viewer_id is not None and staff.intersection(roles):
        return Reader.STAFF
    return None


def email_reader(
    *, viewer_id: int | None, account_id: int, roles: Collection[Role]
) -> Reader | None:
    return owner_or_staff(
        viewer_id=viewer_id, owner_id=account_id, roles=roles, staff=EMAIL_READERS
    )


def history_reader(
    *, viewer_id: int | None, owner_id: int, roles: Collection[Role]
) -> Reader | None:
    """The owner of a profile or the author of a post, or staff who read histories."""
    return owner_or_staff(
        viewer_id=viewer_id, owner_id=owner_id, roles=roles, staff=HISTORY_READERS
    )
