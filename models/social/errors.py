"""Social-graph errors with stable codes."""

from __future__ import annotations

from models.errors import NotAllowed


class CannotFollowSelf(NotAllowed):
    code = "CANNOT_TARGET_SELF"


class Blocked(NotAllowed):
    code = "BLOCKED"
