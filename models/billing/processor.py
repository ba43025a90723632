"""What the billing engine asks of a payment processor, without importing one: the
`PaymentGateway` protocol and the values it answers with. `gateway.StripeGateway` is the
production implementation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class CardDetails:
    stripe_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class IntentResult:
    """Where a PaymentIntent ended up: succeeded, failed (with Stripe's code) or pending."""

    intent_id: str
    status: str
    charge_id: str | None
    failure_code: str
    failure_message: str


@dataclass(frozen=True)
class RefundResult:
    """A refund the processor took: its id and Stripe's status (`pending` or
    `requires_action` until it settles, then `succeeded`, `failed` or `canceled`)."""

    refund_id: str
    status: str


class PaymentGateway(Protocol):
    """The payment processor's calls the billing engine makes. Each that changes something
    carries an idempotency key the caller stored first, so a retry reuses it."""

    async def aclose(self) -> None:
        """Release the processor's connections."""
        ...

    async def create_customer(self, *, account_id: int, email: str, key: str) -> str:
        """Create the processor's customer for an account; its id."""
        ...

    async def customer_exists(self, *, customer_id: str) -> bool:
        """Whether the processor still knows this customer (not deleted, not forgotten)."""
        ...

    async def attach_payment_method(
        self, *, customer_id: str, payment_method_id: str, key: str
    ) -> CardDetails:
        """Attach a payment method; a declined or unknown one is PAYMENT_METHOD_DECLINED."""
        ...

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
        """Create a payment intent for `amount` minor units; its id."""
        ...

    async def confirm_intent(
        self, *, intent_id: str, key: str, on_session: bool = False
    ) -> IntentResult:
        """Confirm an intent; a decline is a failed result, not an exception."""
        ...

    async def cancel_unless_paid(self, *, intent_id: str, key: str) -> IntentResult:
        """Cancel an intent unless it succeeded meanwhile; where it ended up."""
        ...

    async def client_secret(self, *, intent_id: str) -> str | None:
        """What the frontend needs to authenticate a pending intent, if it needs that."""
        ...

    async def retrieve_intent(self, *, intent_id: str) -> IntentResult:
        """Where an intent is now."""
        ...

    async def refund(
        self,
        *,
        intent_id: str,
        amount: int,
        reason: str,
        key: str,
        metadata: dict[str, str] | None = None,
    ) -> RefundResult:
        """Refund part or all of a paid intent; the refund (REFUND_REFUSED if refused)."""
        ...

    async def find_refund(
        self, *, intent_id: str, metadata_key: str, value: str
    ) -> RefundResult | None:
        """An earlier refund of the intent tagged `metadata_key` = `value`."""
        ...

    async def list_refunds(self, *, charge_id: str) -> list[dict[str, Any]]:
        """Every refund of a charge, as plain dicts."""
        ...

    async def list_intents(self) -> list[Any]:
        """Every payment intent, as the processor's own objects, for reconciliation."""
        ...

    async def list_charges(self) -> list[Any]:
        """Every charge, as the processor's own objects, for reconciliation."""
        ...
