"""Sign up, log in and out, and edit one's profile."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import accounts as resolvers
from resolvers.context import Info
from schema.core.errors import INPUT, AuthenticationError, ConflictError, ValidationError
from schema.core.limits import RateLimit
from schema.core.permissions import IsAuthenticated
from schema.core.results import mutation, outcome
from schema.graph.types import Account


@strawberry.input(description="A new account's details.")
class SignUpInput:
    handle: str = strawberry.field(description="3 to 30 letters, digits or underscores.")
    email: str = strawberry.field(description="An email address; stored lower-cased.")
    password: str = strawberry.field(description="10 to 256 characters.")


@strawberry.type(description="A new session for an account.")
class SessionPayload:
    account: Account = strawberry.field(description="The signed-in account.")
    token: str = strawberry.field(
        description="The session token: send it as `Authorization: Bearer <token>` (HTTP) or "
        "as `authorization` in the WebSocket `connection_init` payload. Shown once."
    )


SignUpResult = Annotated[SessionPayload | ValidationError | ConflictError, outcome("signUp")]


@strawberry.input(description="Credentials to log in with.")
class LogInInput:
    login: str = strawberry.field(description="The handle or the email address.")
    password: str = strawberry.field(description="The password.")
    totp_code: str | None = strawberry.field(
        default=None,
        description="The 6-digit code from the authenticator app; required when the account "
        "has two-factor authentication on (or send `recoveryCode`). Each code works once.",
    )
    recovery_code: str | None = strawberry.field(
        default=None, description="A single-use recovery code, in place of `totpCode`."
    )


LogInResult = Annotated[SessionPayload | AuthenticationError, outcome("logIn")]


@strawberry.type(description="Sessions that were ended.")
class LogOutPayload:
    sessions_ended: int = strawberry.field(description="How many sessions were ended.")


@strawberry.input(description="Profile fields to change; omitted fields stay as they are.")
class UpdateProfileInput:
    display_name: str | None = strawberry.field(default=None, description="At most 50 chars.")
    bio: str | None = strawberry.field(default=None, description="At most 300 characters.")
    avatar_url: str | None = strawberry.field(
        default=None, description="An https:// URL of at most 500 characters; empty clears it."
    )


@strawberry.type(description="The updated profile.")
class ProfilePayload:
    account: Account = strawberry.field(description="The viewer's account after the change.")


UpdateProfileResult = Annotated[ProfilePayload | ValidationError, outcome("updateProfile")]


@strawberry.type
class AccountMutations:
    @mutation(
        description="Create an account and sign in to it.",
        extensions=[RateLimit("sign_up.ip", per="ip")],
    )
    async def sign_up(self, info: Info, input: Annotated[SignUpInput, INPUT]) -> SignUpResult:
        account, token = await resolvers.sign_up(
            info.context, handle=input.handle, email=input.email, password=input.password
        )
        return SessionPayload(account=Account.from_row(account), token=token)

    @mutation(description="Log in with a handle or email and a password.")
    async def log_in(self, info: Info, input: Annotated[LogInInput, INPUT]) -> LogInResult:
        account, token = await resolvers.log_in(
            info.context,
            login=input.login,
            password=input.password,
            totp_code=input.totp_code,
            recovery_code=input.recovery_code,
        )
        return SessionPayload(account=Account.from_row(account), token=token)

    @strawberry.mutation(
        description="End the current session; its live subscriptions close at once.",
        permission_classes=[IsAuthenticated],
    )
    async def log_out(self, info: Info) -> LogOutPayload:
        await resolvers.log_out(info.context)
        return LogOutPayload(sessions_ended=1)

    @strawberry.mutation(
        description="End every session of the viewer's account, on every device.",
        permission_classes=[IsAuthenticated],
    )
    async def log_out_everywhere(self, info: Info) -> LogOutPayload:
        return LogOutPayload(sessions_ended=await resolvers.log_out_everywhere(info.context))

    @mutation(
        description="Change the viewer's display name, bio or avatar.",
        permission_classes=[IsAuthenticated],
    )
    async def update_profile(
        self, info: Info, input: Annotated[UpdateProfileInput, INPUT]
    ) -> UpdateProfileResult:
        row = await resolvers.update_profile(
            info.context,
            display_name=input.display_name,
            bio=input.bio,
            avatar_url=input.avatar_url,
        )
        return ProfilePayload(account=Account.from_row(row))
