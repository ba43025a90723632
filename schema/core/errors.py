"""Expected failures as values: every mutation returns its success type or a `UserError`."""

from __future__ import annotations

from enum import Enum

import strawberry

from models.errors import DomainError


@strawberry.enum(description="Stable machine-readable error codes. New codes may be added.")
class ErrorCode(Enum):
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    NOT_ALLOWED = "NOT_ALLOWED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    HANDLE_TAKEN = "HANDLE_TAKEN"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    INVALID_HANDLE = "INVALID_HANDLE"
    INVALID_EMAIL = "INVALID_EMAIL"
    PASSWORD_TOO_SHORT = "PASSWORD_TOO_SHORT"  # noqa: S105 - an error code
    INVALID_PROFILE = "INVALID_PROFILE"
    CANNOT_TARGET_SELF = "CANNOT_TARGET_SELF"
    BLOCKED = "BLOCKED"
    POST_EMPTY = "POST_EMPTY"
    POST_TOO_LONG = "POST_TOO_LONG"
    INVALID_VISIBILITY = "INVALID_VISIBILITY"
    NOT_AUTHOR = "NOT_AUTHOR"
    CANNOT_REPOST = "CANNOT_REPOST"
    REASON_REQUIRED = "REASON_REQUIRED"
    TARGET_OUTRANKS_ACTOR = "TARGET_OUTRANKS_ACTOR"
    CANNOT_CHANGE_OWN_ROLES = "CANNOT_CHANGE_OWN_ROLES"
    INVALID_ROLE = "INVALID_ROLE"
    LAST_ADMIN = "LAST_ADMIN"
    SECOND_FACTOR_REQUIRED = "SECOND_FACTOR_REQUIRED"
    INVALID_TOTP_CODE = "INVALID_TOTP_CODE"
    TOTP_CODE_REUSED = "TOTP_CODE_REUSED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    TOTP_NOT_ENROLLED = "TOTP_NOT_ENROLLED"
    TOTP_ALREADY_ENABLED = "TOTP_ALREADY_ENABLED"
    STAFF_NEEDS_TOTP = "STAFF_NEEDS_TOTP"
    INVALID_FILTER = "INVALID_FILTER"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_RANGE = "INVALID_RANGE"
    ACCOUNT_SUSPENDED = "ACCOUNT_SUSPENDED"
    CANNOT_MODERATE_SELF = "CANNOT_MODERATE_SELF"
    NOTE_REQUIRED = "NOTE_REQUIRED"
    NOTE_TOO_LONG = "NOTE_TOO_LONG"
    INVALID_EXPIRY = "INVALID_EXPIRY"
    INVALID_ASSIGNEE = "INVALID_ASSIGNEE"
    CASE_CLOSED = "CASE_CLOSED"
    ACTION_ALREADY_IN_FORCE = "ACTION_ALREADY_IN_FORCE"
    ACTION_NOT_IN_FORCE = "ACTION_NOT_IN_FORCE"
    ALREADY_APPEALED = "ALREADY_APPEALED"
    APPEAL_ALREADY_DECIDED = "APPEAL_ALREADY_DECIDED"
    INVALID_WEBHOOK_URL = "INVALID_WEBHOOK_URL"
    INVALID_EVENT_TYPES = "INVALID_EVENT_TYPES"
    TOO_MANY_WEBHOOK_ENDPOINTS = "TOO_MANY_WEBHOOK_ENDPOINTS"
    INVALID_DATE_RANGE = "INVALID_DATE_RANGE"
    UNSUPPORTED_CURRENCY = "UNSUPPORTED_CURRENCY"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    UNKNOWN_PLAN = "UNKNOWN_PLAN"
    UNKNOWN_COUPON = "UNKNOWN_COUPON"
    COUPON_NOT_APPLICABLE = "COUPON_NOT_APPLICABLE"
    COUPON_EXPIRED = "COUPON_EXPIRED"
    COUPON_EXHAUSTED = "COUPON_EXHAUSTED"
    COUPON_ALREADY_REDEEMED = "COUPON_ALREADY_REDEEMED"
    NO_PAYMENT_METHOD = "NO_PAYMENT_METHOD"
    PAYMENT_METHOD_DECLINED = "PAYMENT_METHOD_DECLINED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    PAYMENT_REJECTED = "PAYMENT_REJECTED"
    PAYMENT_PROCESSOR_UNAVAILABLE = "PAYMENT_PROCESSOR_UNAVAILABLE"
    ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"
    NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
    SAME_PLAN = "SAME_PLAN"
    INVALID_COUNTRY = "INVALID_COUNTRY"
    REFUND_EXCEEDS_PAID = "REFUND_EXCEEDS_PAID"
    INVOICE_NOT_REFUNDABLE = "INVOICE_NOT_REFUNDABLE"
    INVALID_INVOICE_STATE = "INVALID_INVOICE_STATE"
    UNKNOWN_METER = "UNKNOWN_METER"
    USAGE_EVENT_CONFLICT = "USAGE_EVENT_CONFLICT"
    EDIT_WINDOW_CLOSED = "EDIT_WINDOW_CLOSED"
    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    USAGE_OUTSIDE_PERIOD = "USAGE_OUTSIDE_PERIOD"
    REFUND_REFUSED = "REFUND_REFUSED"


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


def user_error(err: DomainError, allowed: tuple[type[UserError], ...]) -> UserError:
    """Map a domain error to its result type; an error the mutation did not declare is a bug
    and is re-raised (and masked for the client)."""
    cls = ERROR_TYPES[err.kind]
    if cls not in allowed:
        raise err
    return cls(message=err.message, code=ErrorCode(err.code), field=err.field)


INPUT = strawberry.argument(description="What to do; every field is described on the input type.")
