"""Domain errors: expected failures with a stable code that clients can rely on."""

from __future__ import annotations

# Codes of top-level GraphQL errors (`errors[].extensions.code`), which are not members of
# the ErrorCode enum that result unions carry: docs/api.md lists each one for clients.
TOP_LEVEL_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "BAD_USER_INPUT",
        "RATE_LIMITED",
        "QUERY_TOO_COSTLY",
        "PAYLOAD_TOO_LARGE",
        "URI_TOO_LONG",
        "INTERNAL_SERVER_ERROR",
        "IDEMPOTENCY_KEY_INVALID",
        "IDEMPOTENCY_KEY_IN_USE",
        "IDEMPOTENCY_KEY_REUSED",
    }
)


class DomainError(Exception):
    """An expected failure; `code` is stable and SCREAMING_SNAKE, `field` names the bad input."""

    code = "INVALID_INPUT"
    kind = "validation"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class InvalidInput(DomainError):
    code = "INVALID_INPUT"
    kind = "validation"


class InvalidId(InvalidInput):
    """A global id that is malformed or names an object of another type."""

    code = "INVALID_ID"


class NotFound(DomainError):
    """The object does not exist or the viewer may not see it: the two are not told apart."""

    code = "NOT_FOUND"
    kind = "not_found"


class Conflict(DomainError):
    code = "CONFLICT"
    kind = "conflict"


class NotAllowed(DomainError):
    code = "NOT_ALLOWED"
    kind = "not_allowed"


class AuthenticationFailed(DomainError):
    code = "INVALID_CREDENTIALS"
    kind = "authentication"
