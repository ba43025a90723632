"""Access's registrations: roles' and second factors' tables and error codes."""

from __future__ import annotations

from models.access import errors, tables
from models.registry import Domain

DOMAIN = Domain(
    name="access",
    tables=(tables,),
    error_codes=(
        errors.ReasonRequired.code,
        errors.OutranksActor.code,
        errors.SelfEscalation.code,
        errors.InvalidRole.code,
        errors.LastAdmin.code,
        errors.SecondFactorRequired.code,
        errors.InvalidTotpCode.code,
        errors.TotpCodeReused.code,
        errors.TooManyAttempts.code,
        errors.TotpNotEnrolled.code,
        errors.TotpAlreadyEnabled.code,
        errors.StaffNeedsTotp.code,
    ),
)
