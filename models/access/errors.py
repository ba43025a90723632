"""Access-control failures."""

from __future__ import annotations

from models.errors import AuthenticationFailed, Conflict, InvalidInput, NotAllowed


class ReasonRequired(InvalidInput):
    code = "REASON_REQUIRED"


class OutranksActor(NotAllowed):
    """The target holds a higher rank than the staff member acting on it."""

    code = "TARGET_OUTRANKS_ACTOR"


class SelfEscalation(NotAllowed):
    code = "CANNOT_CHANGE_OWN_ROLES"


class InvalidRole(InvalidInput):
    code = "INVALID_ROLE"


class SecondFactorRequired(AuthenticationFailed):
    code = "SECOND_FACTOR_REQUIRED"


class InvalidTotpCode(AuthenticationFailed):
    code = "INVALID_TOTP_CODE"


class TooManyAttempts(AuthenticationFailed):
    code = "TOO_MANY_ATTEMPTS"


class TotpCodeReused(AuthenticationFailed):
    code = "TOTP_CODE_REUSED"


class TotpNotEnrolled(Conflict):
    code = "TOTP_NOT_ENROLLED"


class TotpAlreadyEnabled(Conflict):
    code = "TOTP_ALREADY_ENABLED"


class StaffNeedsTotp(NotAllowed):
    code = "STAFF_NEEDS_TOTP"


class LastAdmin(Conflict):
    code = "LAST_ADMIN"


class EnrolmentCodeRequired(AuthenticationFailed):
    """An account holding a staff role turns on its first second factor only with an
    enrolment code an ADMIN issued."""

    code = "ENROLMENT_CODE_REQUIRED"


class InvalidEnrolmentCode(AuthenticationFailed):
    """Wrong, used, expired, or issued for another account: one answer for all."""

    code = "INVALID_ENROLMENT_CODE"
