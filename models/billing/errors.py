"""Billing's expected failures, each with a stable code."""

from __future__ import annotations

from models.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound


class UnsupportedCurrency(InvalidInput):
    code = "UNSUPPORTED_CURRENCY"


class CurrencyMismatch(Conflict):
    code = "CURRENCY_MISMATCH"


class InvalidAmount(InvalidInput):
    code = "INVALID_AMOUNT"


class UnknownPlan(NotFound):
    code = "UNKNOWN_PLAN"


class UnknownCoupon(NotFound):
    code = "UNKNOWN_COUPON"


class CouponNotApplicable(Conflict):
    code = "COUPON_NOT_APPLICABLE"


class CouponExpired(Conflict):
    code = "COUPON_EXPIRED"


class CouponExhausted(Conflict):
    code = "COUPON_EXHAUSTED"


class CouponAlreadyRedeemed(Conflict):
    code = "COUPON_ALREADY_REDEEMED"


class NoPaymentMethod(Conflict):
    code = "NO_PAYMENT_METHOD"


class PaymentMethodDeclined(DomainError):
    code = "PAYMENT_METHOD_DECLINED"
    kind = "payment"


class PaymentCustomerUnknown(DomainError):
    """The payment processor no longer knows the account's customer (deleted there, or a
    development localstripe restarted empty): nothing can be attached or charged to it."""

    code = "PAYMENT_CUSTOMER_UNKNOWN"
    kind = "payment"


class PaymentFailed(DomainError):
    code = "PAYMENT_FAILED"
    kind = "payment"


class PaymentRejected(DomainError):
    """Stripe refused the request itself (not a card decline): an amount below its minimum,
    a misconfigured key. Retrying the same request will not help."""

    code = "PAYMENT_REJECTED"
    kind = "payment"


class PaymentProcessorUnavailable(DomainError):
    """Stripe did not answer in time; the call is safe to retry (same idempotency key)."""

    code = "PAYMENT_PROCESSOR_UNAVAILABLE"
    kind = "unavailable"


class AlreadySubscribed(Conflict):
    code = "ALREADY_SUBSCRIBED"


class NotSubscribed(Conflict):
    code = "NOT_SUBSCRIBED"


class SamePlan(Conflict):
    code = "SAME_PLAN"


class InvalidCountry(InvalidInput):
    code = "INVALID_COUNTRY"


class RefundTooLarge(Conflict):
    code = "REFUND_EXCEEDS_PAID"


class InvoiceNotRefundable(Conflict):
    code = "INVOICE_NOT_REFUNDABLE"


class RefundRefused(Conflict):
    """Stripe refused the refund (for example, refunded already in its dashboard)."""

    code = "REFUND_REFUSED"


class InvalidInvoiceState(Conflict):
    code = "INVALID_INVOICE_STATE"


class UnknownMeter(NotFound):
    code = "UNKNOWN_METER"


class UsageConflict(Conflict):
    """An event id reused with different contents: the first recording stands."""

    code = "USAGE_EVENT_CONFLICT"


class BillingNotAllowed(NotAllowed):
    code = "NOT_ALLOWED"


class UsageOutsidePeriod(InvalidInput):
    """Usage dated before the open billing period (already invoiced) or in the future."""

    code = "USAGE_OUTSIDE_PERIOD"


class InvalidWebhookPayload(InvalidInput):
    """A signed Stripe event whose content is not a Stripe event Chirp can read."""

    code = "INVALID_PAYLOAD"
