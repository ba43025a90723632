"""Expected failures as values: every mutation returns its success type or a `UserError`."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, TypeAlias

import strawberry

from models.domains import error_codes

# Built from the domains' declarations (models.domains), so each code is written once, in
# its domain; mypy sees a plain Enum, as it cannot follow a functional Enum's members.
if TYPE_CHECKING:
    ErrorCode: TypeAlias = Enum
else:
    ErrorCode = strawberry.enum(
        Enum("ErrorCode", [(code, code) for code in error_codes()]),
        description="Stable machine-readable error codes. New codes may be added.",
    )


@strawberry.interface(description="An expected failure the client can show or act on.")
class UserError:
    message: str = strawberry.field(description="A human-readable explanation, in English.")
    code: ErrorCode = strawberry.field(description="A stable code to branch on.")
    field: str | None = strawberry.field(
        description="The input field at fault (camelCase), or null when no one field is."
    )


@strawberry.type(description="The input was malformed or out of bounds.")
class ValidationError(UserError):
    pass


@strawberry.type(description="The object does not exist or is not visible to the viewer.")
class NotFoundError(UserError):
    pass


@strawberry.type(
    description="The change conflicts with existing data (for example a taken handle)."
)
class ConflictError(UserError):
    pass


@strawberry.type(description="The viewer may see the object but not do this to it.")
class NotAllowedError(UserError):
    pass


@strawberry.type(description="The credentials were wrong.")
class AuthenticationError(UserError):
    pass


@strawberry.type(
    description="The payment did not go through (a declined card, a failed charge): add or "
    "choose another payment method and try again."
)
class PaymentError(UserError):
    pass


@strawberry.type(
    description="A service Chirp depends on (the payment processor) did not answer in time. "
    "Nothing was done twice: the same request is safe to retry shortly."
)
class ServiceUnavailableError(UserError):
    pass


ERROR_TYPES: dict[str, type[UserError]] = {
    "validation": ValidationError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "not_allowed": NotAllowedError,
    "authentication": AuthenticationError,
    "payment": PaymentError,
    "unavailable": ServiceUnavailableError,
}


INPUT = strawberry.argument(description="What to do; every field is described on the input type.")
