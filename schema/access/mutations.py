"""Two-factor authentication (TOTP) for any account; required of staff."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import access as resolvers
from resolvers.context import Info
from schema.core.errors import INPUT, AuthenticationError, ConflictError, NotAllowedError
from schema.core.permissions import IsAuthenticated
from schema.core.results import mutation, outcome


@strawberry.type(description="A TOTP secret to add to an authenticator app.")
class TotpEnrolment:
    secret: str = strawberry.field(description="The base32 secret, for typing in by hand.")
    provisioning_uri: str = strawberry.field(
        description="An otpauth:// URI; show it as a QR code for the app to scan."
    )


BeginTotpEnrolmentResult = Annotated[
    TotpEnrolment | AuthenticationError | ConflictError, outcome("beginTotpEnrolment")
]


@strawberry.input(description="The password again, to start turning on TOTP.")
class BeginTotpEnrolmentInput:
    password: str = strawberry.field(
        description="The account's password: a session token alone cannot change TOTP."
    )
    enrolment_code: str | None = strawberry.field(
        default=None,
        description="Required of an account holding a staff role: the single-use code an "
        "ADMIN issued for it (`issueTotpEnrolmentCode`), valid 24 hours. Without it the "
        "answer is ENROLMENT_CODE_REQUIRED; a wrong, used or expired one is "
        "INVALID_ENROLMENT_CODE.",
    )


@strawberry.input(description="A code proving the authenticator app holds the secret.")
class TotpCodeInput:
    code: str = strawberry.field(description="The current 6-digit code.")


@strawberry.input(description="A current code and the password, to turn TOTP off.")
class DisableTotpInput:
    code: str = strawberry.field(description="The current 6-digit code.")
    password: str = strawberry.field(
        description="The account's password: a session token alone cannot change TOTP."
    )


@strawberry.type(description="Two-factor authentication is on.")
class TotpEnabled:
    recovery_codes: list[str] = strawberry.field(
        description="Ten single-use recovery codes, shown this once: keep them safe. Each "
        "replaces a TOTP code at log-in once."
    )


ConfirmTotpEnrolmentResult = Annotated[
    TotpEnabled | AuthenticationError | ConflictError, outcome("confirmTotpEnrolment")
]


@strawberry.type(description="Two-factor authentication is off.")
class TotpDisabled:
    enabled: bool = strawberry.field(description="Always false.")


DisableTotpResult = Annotated[
    TotpDisabled | AuthenticationError | ConflictError | NotAllowedError, outcome("disableTotp")
]


@strawberry.type(description="The viewer's two-factor authentication.")
class TwoFactorStatus:
    enabled: bool = strawberry.field(description="Whether TOTP is on.")
    recovery_codes_left: int = strawberry.field(description="Unused recovery codes (0 to 10).")
    session_verified: bool = strawberry.field(
        description="Whether this session proved a second factor; staff roles count only then."
    )


@strawberry.type
class SecurityQueries:
    @strawberry.field(
        description="The viewer's two-factor authentication status.",
        permission_classes=[IsAuthenticated],
    )
    async def two_factor(self, info: Info) -> TwoFactorStatus:
        enabled, left = await resolvers.second_factor_status(info.context)
        return TwoFactorStatus(
            enabled=enabled,
            recovery_codes_left=left,
            session_verified=info.context.second_factor,
        )


@strawberry.type
class SecurityMutations:
    @mutation(
        description="Start turning on TOTP (the password again is required; an account "
        "holding a staff role also needs an ADMIN's enrolment code): returns a secret; "
        "confirm it with a first code.",
        permission_classes=[IsAuthenticated],
    )
    async def begin_totp_enrolment(
        self, info: Info, input: Annotated[BeginTotpEnrolmentInput, INPUT]
    ) -> BeginTotpEnrolmentResult:
        enrolment = await resolvers.begin_totp_enrolment(
            info.context, password=input.password, enrolment_code=input.enrolment_code
        )
        return TotpEnrolment(secret=enrolment.secret, provisioning_uri=enrolment.uri)

    @mutation(
        description="Finish turning on TOTP with the app's current code. Returns recovery "
        "codes; this session then counts as having proved a second factor. The owner is "
        "told by email.",
        permission_classes=[IsAuthenticated],
    )
    async def confirm_totp_enrolment(
        self, info: Info, input: Annotated[TotpCodeInput, INPUT]
    ) -> ConfirmTotpEnrolmentResult:
        codes = await resolvers.confirm_totp_enrolment(info.context, code=input.code)
        return TotpEnabled(recovery_codes=codes)

    @mutation(
        description="Turn TOTP off with a current code and the password. Staff cannot: their "
        "roles require it. Every session then stops counting as having proved a factor.",
        permission_classes=[IsAuthenticated],
    )
    async def disable_totp(
        self, info: Info, input: Annotated[DisableTotpInput, INPUT]
    ) -> DisableTotpResult:
        await resolvers.disable_totp(info.context, code=input.code, password=input.password)
        return TotpDisabled(enabled=False)
