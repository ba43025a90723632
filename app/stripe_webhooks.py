"""POST /webhooks/stripe: Stripe's signed events. No session token: the signature over the
raw body (STRIPE_WEBHOOK_SECRET, within STRIPE_WEBHOOK_TOLERANCE seconds) is the
authentication. A bad request is a 400 with a stable code and a passing failure (database,
Stripe) a 503 that Stripe retries, never a 500; an event is applied in one transaction,
exactly once (models/billing/webhooks.py)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import stripe
from sqlalchemy.exc import DataError, DBAPIError, StatementError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from models.base import utcnow
from models.billing import webhooks
from models.billing.errors import InvalidWebhookPayload, PaymentProcessorUnavailable
from models.billing.setup import BillingSetup
from models.errors import DomainError
from resolvers.context import Runtime
from telemetry import metrics

log = logging.getLogger("chirp.billing.webhooks")

PATH = "/webhooks/stripe"
ATTEMPTS = 5
# SQLSTATEs of a transaction that lost a race and may simply run again.
_RETRYABLE = {"40001", "40P01"}
# What an event's unexpected contents raise: applying the same event again fails again.
_PAYLOAD_ERRORS = (ValueError, TypeError, LookupError, ArithmeticError, AttributeError)


def _error(status: int, code: str, message: str) -> JSONResponse:
    metrics.WEBHOOKS.labels("inbound", metrics.FAILED).inc()
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _raw_body(request: Request, limit: int) -> bytes | None:
    """The body exactly as sent (the signature covers these bytes), or None past `limit`."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state in _RETRYABLE or "database is locked" in str(orig)


def _unexpected(exc: Exception, event: Any) -> JSONResponse:
    """The answer to a failure nothing above expected, logged in full: 400 INVALID_PAYLOAD
    when the event's contents caused it (the same delivery fails the same way), otherwise
    503 so that Stripe delivers it again later (the database or Stripe may be back)."""
    event_id = event.get("id") if isinstance(event, dict) else None
    log.error("stripe event %r could not be applied", event_id, exc_info=exc)
    if _from_payload(exc):
        return _error(400, "INVALID_PAYLOAD", "The event has contents Chirp cannot apply.")
    if isinstance(exc, stripe.StripeError):
        return _error(
            503, "PAYMENT_PROCESSOR_UNAVAILABLE", "Stripe did not answer; deliver it again."
        )
    return _error(503, "TEMPORARILY_UNAVAILABLE", "Chirp cannot apply it now; deliver it again.")


def _from_payload(exc: Exception) -> bool:
    if isinstance(exc, (DomainError, DataError)):
        return True
    if isinstance(exc, DBAPIError):
        return False
    # A value the database driver could not take (an integer too large, say) may arrive
    # wrapped in a StatementError; anything else of these kinds is the event's contents.
    cause = exc.orig if isinstance(exc, StatementError) else exc
    return isinstance(cause, _PAYLOAD_ERRORS)


class StripeWebhookEndpoint:
    """Its `receive` method is the route's endpoint."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def receive(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            return await self._handle(request)
        finally:
            metrics.WEBHOOK_DURATION.labels("inbound").observe(time.perf_counter() - started)

    async def _handle(self, request: Request) -> Response:
        settings = self.runtime.settings
        header = request.headers.get("stripe-signature")
        if not header:
            return _error(400, "INVALID_SIGNATURE", "The Stripe-Signature header is missing.")
        try:
            body = await _raw_body(request, settings.max_webhook_body_bytes)
        except ClientDisconnect:
            return _error(400, "INVALID_PAYLOAD", "The request body was cut off.")
        if body is None:
            limit = settings.max_webhook_body_bytes
            return _error(413, "PAYLOAD_TOO_LARGE", f"A Stripe event is under {limit} bytes.")
        try:
            stripe.Webhook.construct_event(
                body,
                header,
                settings.stripe_webhook_secret,
                tolerance=settings.stripe_webhook_tolerance,
            )
        except stripe.SignatureVerificationError:
            return _error(
                400,
                "INVALID_SIGNATURE",
                "The signature does not match this body and secret, or is too old.",
            )
        except (ValueError, TypeError, AttributeError, KeyError):
            return _error(400, "INVALID_PAYLOAD", "The body is not a JSON Stripe event.")
        event: Any = None
        try:
            event = json.loads(body)
            webhooks.parse_event(event)
            event = await webhooks.complete_event(self._setup(), event)
            receipt = await self._apply(event)
        except InvalidWebhookPayload as exc:
            return _error(400, exc.code, exc.message)
        except PaymentProcessorUnavailable as exc:
            # Stripe retries a non-2xx delivery later; by then it may answer.
            return _error(503, exc.code, exc.message)
        except Exception as exc:  # a verified event never gets a 500 (nor a stack trace)
            return _unexpected(exc, event)
        metrics.WEBHOOKS.labels("inbound", metrics.SUCCEEDED).inc()
        if receipt.payment_outcome is not None:
            metrics.PAYMENTS.labels(receipt.payment_outcome).inc()
        log.info(
            "stripe event %s (%s) %s",
            event["id"],
            event["type"],
            "applied" if receipt.recorded else "was a duplicate",
        )
        return JSONResponse({"received": True, "duplicate": not receipt.recorded})

    def _setup(self) -> BillingSetup:
        setup = self.runtime.billing
        assert setup is not None, "billing is configured by build_services"
        return setup

    async def _apply(self, event: dict[str, Any]) -> webhooks.Receipt:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self.runtime.transactions.begin() as session:
                    return await webhooks.receive_event(
                        session, self._setup(), event=event, now=utcnow()
                    )
            except DBAPIError as exc:
                if attempt == ATTEMPTS or not _retryable(exc):
                    raise
                log.info(
                    "stripe event %s: transaction lost a race, again (%d)", event["id"], attempt
                )
        raise AssertionError("unreachable")
