"""Stripe, through the official SDK, as the payment processor: customers, payment methods,
payment intents and refunds. Every call carries an idempotency key that the caller stored
(committed) first (`idempotency.reserve`), so a retry after a timeout reuses it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import stripe

from models.billing import errors

# Re-exported: the engine's modules import them from here as well as from `processor`.
from models.billing.processor import CardDetails as CardDetails
from models.billing.processor import IntentResult as IntentResult
from models.billing.processor import RefundResult as RefundResult
from models.transactions import ensure_outside_transaction


class StripeSettings(Protocol):
    """What the gateway reads of Chirp's settings (models do not import `app`)."""

    @property
    def stripe_api_key(self) -> str: ...
    @property
    def stripe_api_base(self) -> str: ...
    @property
    def stripe_timeout(self) -> float: ...


TRANSIENT = (
    stripe.APIConnectionError,
    stripe.APIError,
    stripe.RateLimitError,
    # The same key is still being processed by an earlier try: try again later.
    stripe.IdempotencyError,
)


def _mapped(exc: stripe.StripeError) -> errors.PaymentProcessorUnavailable | errors.PaymentRejected:
    """Every Stripe error as a billing error: worth a retry, or refused as asked."""
    if isinstance(exc, TRANSIENT):
        return errors.PaymentProcessorUnavailable(
            "The payment processor did not answer; nothing was charged twice. Try again shortly."
        )
    return errors.PaymentRejected(
        f"The payment processor refused the request ({exc.code or type(exc).__name__})."
    )


def _charge_id(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value.id)


class HTTPXClient(stripe.HTTPXClient):
    """stripe 16.1 hands httpx its url-encoded body as `data=`, which httpx 0.28 deprecates
    (a DeprecationWarning on every call, an error under strict warning filters); `content=`
    sends the same bytes. The hook is private, so the pins of both must move together."""

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> Any:
        # Every Stripe request passes here: none may wait inside an open transaction.
        ensure_outside_transaction("a Stripe call")
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        body = kwargs.pop("data", None)
        if body:
            kwargs["content"] = body
        return [args, kwargs]


class StripeGateway:
    """The few Stripe calls Chirp makes, each async over httpx, each with its key (the
    `PaymentGateway` of production)."""

    @classmethod
    def from_settings(cls, settings: StripeSettings) -> StripeGateway:
        return cls(
            api_key=settings.stripe_api_key,
            api_base=settings.stripe_api_base,
            timeout=settings.stripe_timeout,
        )

    def __init__(self, *, api_key: str, api_base: str, timeout: float) -> None:
        addresses: Any = {"api": api_base} if api_base else None
        self.http_client = HTTPXClient(timeout=timeout)
        self.client = stripe.StripeClient(
            api_key,
            base_addresses=addresses,
            http_client=self.http_client,
            max_network_retries=0,
        )

    async def aclose(self) -> None:
        await self.http_client.close_async()  # type: ignore[no-untyped-call]

    async def create_customer(self, *, account_id: int, email: str, key: str) -> str:
        try:
            customer = await self.client.v1.customers.create_async(
                params={"email": email, "metadata": {"chirp_account_id": str(account_id)}},
                options={"idempotency_key": key},
            )
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return str(customer.id)

    async def customer_exists(self, *, customer_id: str) -> bool:
        try:
            customer = await self.client.v1.customers.retrieve_async(customer_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return False
            raise _mapped(exc) from exc
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return not getattr(customer, "deleted", False)

    async def attach_payment_method(
        self, *, customer_id: str, payment_method_id: str, key: str
    ) -> CardDetails:
        """Attach a payment method the frontend created; a card Stripe declines, or an id it
        does not know, is PAYMENT_METHOD_DECLINED."""
        try:
            method = await self.client.v1.payment_methods.attach_async(
                payment_method_id,
                params={"customer": customer_id},
                options={"idempotency_key": key},
            )
        except (stripe.CardError, stripe.InvalidRequestError) as exc:
            raise errors.PaymentMethodDeclined(
                "That payment method was declined or is unknown to the payment processor.",
                field="paymentMethodId",
            ) from exc
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        card = method.card
        return CardDetails(
            stripe_id=str(method.id),
            brand=str(card.brand) if card else "",
            last4=str(card.last4) if card else "",
            exp_month=int(card.exp_month) if card else 0,
            exp_year=int(card.exp_year) if card else 0,
        )

    async def create_intent(
        self,
        *,
        amount: int,
        currency: str,
        customer_id: str,
        payment_method_id: str,
        metadata: dict[str, str],
        key: str,
    ) -> str:
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params={
                    "amount": amount,
                    "currency": currency.lower(),
                    "customer": customer_id,
                    "payment_method": payment_method_id,
                    "metadata": metadata,
                },
                options={"idempotency_key": key},
            )
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return str(intent.id)

    async def confirm_intent(
        self, *, intent_id: str, key: str, on_session: bool = False
    ) -> IntentResult:
        """Confirm; a decline is a result (status failed), not an exception. On session (the
        customer is at the frontend, subscribing or upgrading) an intent that needs 3-D
        Secure stays pending for the frontend to authenticate with its client secret."""
        try:
            intent = await self.client.v1.payment_intents.confirm_async(
                intent_id, options={"idempotency_key": key}
            )
        except stripe.CardError as exc:
            return IntentResult(
                intent_id, "failed", None, str(exc.code or "card_declined"), str(exc.user_message)
            )
        except stripe.InvalidRequestError:
            # Already confirmed by an earlier try whose answer was lost: read where it is.
            return await self.retrieve_intent(intent_id=intent_id)
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        result = _result(intent)
        if str(intent.status) in NEEDS_CUSTOMER and not on_session:
            # Off session (renewals, retries) no customer is there to authenticate (3-D Secure),
            # so the intent is canceled (it can never be completed later) and the payment
            # fails like a decline; dunning asks the owner for another payment method.
            return await self._cancel_needing_customer(intent_id, result, f"{key}-cancel")
        return result

    async def _cancel_needing_customer(
        self, intent_id: str, result: IntentResult, key: str
    ) -> IntentResult:
        try:
            intent = await self.client.v1.payment_intents.cancel_async(
                intent_id, options={"idempotency_key": key}
            )
        except stripe.InvalidRequestError:
            return await self.retrieve_intent(intent_id=intent_id)
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        if str(intent.status) != "canceled":
            return _result(intent)
        return IntentResult(
            intent_id,
            "failed",
            result.charge_id,
            "authentication_required",
            "This payment method needs the cardholder to authenticate each payment.",
        )

    async def cancel_unless_paid(self, *, intent_id: str, key: str) -> IntentResult:
        """Cancel an intent Chirp no longer wants; one that succeeded meanwhile is reported
        as succeeded (it cannot be canceled), so the caller applies it instead."""
        current = await self.retrieve_intent(intent_id=intent_id)
        if current.status != "pending":
            return current
        try:
            intent = await self.client.v1.payment_intents.cancel_async(
                intent_id, options={"idempotency_key": key}
            )
        except stripe.InvalidRequestError:
            return await self.retrieve_intent(intent_id=intent_id)
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return _result(intent)

    async def client_secret(self, *, intent_id: str) -> str | None:
        """What Stripe.js needs to let the customer authenticate a pending intent."""
        try:
            intent = await self.client.v1.payment_intents.retrieve_async(intent_id)
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        if str(intent.status) not in NEEDS_CUSTOMER:
            return None
        return str(intent.client_secret) if intent.client_secret else None

    async def retrieve_intent(self, *, intent_id: str) -> IntentResult:
        try:
            intent = await self.client.v1.payment_intents.retrieve_async(intent_id)
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return _result(intent)

    async def refund(
        self,
        *,
        intent_id: str,
        amount: int,
        reason: str,
        key: str,
        metadata: dict[str, str] | None = None,
    ) -> RefundResult:
        """A refund Stripe refuses (already refunded, unknown intent) is REFUND_REFUSED."""
        try:
            refund = await self.client.v1.refunds.create_async(
                params={
                    "payment_intent": intent_id,
                    "amount": amount,
                    "metadata": {**(metadata or {}), "reason": reason[:500]},
                },
                options={"idempotency_key": key},
            )
        except (stripe.InvalidRequestError, stripe.CardError) as exc:
            raise errors.RefundRefused(
                "The payment processor refused the refund; nothing was refunded.", field="amount"
            ) from exc
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return _refund_result(refund)

    async def find_refund(
        self, *, intent_id: str, metadata_key: str, value: str
    ) -> RefundResult | None:
        """The refund of the intent whose metadata has `metadata_key` = `value`: an earlier
        call whose answer was lost (idempotency keys expire after a day)."""
        params: Any = {"payment_intent": intent_id, "limit": 100}
        try:
            while True:
                page = await self.client.v1.refunds.list_async(params=params)
                for refund in page.data:
                    tags = refund.metadata
                    if tags is not None and metadata_key in tags and tags[metadata_key] == value:
                        return _refund_result(refund)
                if not page.has_more or not page.data:
                    return None
                params["starting_after"] = page.data[-1].id
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc

    async def list_intents(self) -> list[Any]:
        """Every PaymentIntent Stripe has, newest first, for reconciliation."""
        return await self._list_all("payment_intents", {})

    async def list_refunds(self, *, charge_id: str) -> list[dict[str, Any]]:
        """Every refund of a charge, as plain dicts (a charge.refunded event may omit them);
        none for a charge Stripe does not know."""
        try:
            found = await self._list_all("refunds", {"charge": charge_id})
        except stripe.InvalidRequestError:
            return []
        except stripe.StripeError as exc:  # a wrong key, say: Stripe retries the event later
            raise _mapped(exc) from exc
        return [r.to_dict() for r in found]

    async def list_charges(self) -> list[Any]:
        """Every charge Stripe has, for reconciliation (their refunded amounts)."""
        return await self._list_all("charges", {})

    async def _list_all(self, resource: str, params: dict[str, Any]) -> list[Any]:
        found: list[Any] = []
        query: Any = {**params, "limit": 100}
        service = getattr(self.client.v1, resource)
        try:
            while True:
                page = await service.list_async(params=query)
                found.extend(page.data)
                if not page.has_more or not page.data:
                    return found
                query["starting_after"] = page.data[-1].id
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc


def _refund_result(refund: Any) -> RefundResult:
    # A refund without a status (older API versions, localstripe) was made at once.
    return RefundResult(str(refund.id), str(getattr(refund, "status", None) or "succeeded"))


# Statuses an off-session confirmation stops at because only the cardholder can go on.
NEEDS_CUSTOMER = ("requires_action", "requires_confirmation")


def _result(intent: Any) -> IntentResult:
    status = str(intent.status)
    error = intent.last_payment_error
    if status == "succeeded":
        outcome = "succeeded"
    elif status in ("requires_payment_method", "canceled"):
        outcome = "failed"
    else:
        outcome = "pending"
    return IntentResult(
        str(intent.id),
        outcome,
        _charge_id(intent.latest_charge),
        str(error.code) if error and outcome == "failed" else "",
        str(error.message) if error and outcome == "failed" else "",
    )


def result_of(intent: Any) -> IntentResult:
    """Where a PaymentIntent object (as listed or retrieved) ended up, as Chirp counts it."""
    return _result(intent)
