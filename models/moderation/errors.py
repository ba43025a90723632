"""Moderation failures with stable codes. A missing reason (REASON_REQUIRED) and an
outranked target (TARGET_OUTRANKS_ACTOR) are `models.access.errors`."""

from __future__ import annotations

from models.errors import AuthenticationFailed, Conflict, InvalidInput, NotAllowed


class AccountSuspended(AuthenticationFailed):
    code = "ACCOUNT_SUSPENDED"


class CannotReportSelf(NotAllowed):
    code = "CANNOT_TARGET_SELF"


class CannotModerateSelf(NotAllowed):
    """Staff never act on their own account, their own posts or their own appeals."""

    code = "CANNOT_MODERATE_SELF"


class NoteTooLong(InvalidInput):
    code = "NOTE_TOO_LONG"


class NoteRequired(InvalidInput):
    code = "NOTE_REQUIRED"


class InvalidExpiry(InvalidInput):
    code = "INVALID_EXPIRY"


class InvalidAssignee(InvalidInput):
    code = "INVALID_ASSIGNEE"


class CaseClosed(Conflict):
    code = "CASE_CLOSED"


class AlreadyInForce(Conflict):
    code = "ACTION_ALREADY_IN_FORCE"


class NotInForce(Conflict):
    code = "ACTION_NOT_IN_FORCE"


class AlreadyAppealed(Conflict):
    code = "ALREADY_APPEALED"


class AppealDecided(Conflict):
    code = "APPEAL_ALREADY_DECIDED"
