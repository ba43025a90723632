"""`InMemoryPaymentGateway`: a fake `PaymentGateway` for domain tests only. It keeps customers,
payment methods, intents and refunds in dicts and behaves like Stripe on the paths the
engine's domain tests take (attach, charge, decline, refund, idempotency keys). Everything
Stripe-specific (webhooks, 3-D Secure, reconciliation, timeouts) is tested against
localstripe in tests/integration and tests/api, never against this fake."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from models.billing import errors
from models.billing.processor import CardDetails, IntentResult, RefundResult

# The cards this fake knows, as Stripe's test cards: one that pays, one that attaches and is
# then declined on every charge (as 4000000000000341 is). Any other payment method id is
# unknown to it, as to Stripe.
GOOD_CARD = "4242424242424242"
DECLINED_ON_CHARGE = "4000000000000341"


@dataclass
class Intent:
    id: str
    amount: int
    currency: str
    customer_id: str
    payment_method_id: str
    metadata: dict[str, str]
    status: str = "pending"
    charge_id: str | None = None
    failure_code: str = ""
    refunds: list[dict[str, Any]] = field(default_factory=list)

    def result(self) -> IntentResult:
        message = "Your card was declined." if self.failure_code else ""
        return IntentResult(self.id, self.status, self.charge_id, self.failure_code, message)


class InMemoryPaymentGateway:
    """A fake payment processor for domain tests only (see the module's docstring)."""

    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.cards: dict[str, str] = {}  # payment method id -> card number
        self.attached: dict[str, str] = {}  # payment method id -> customer id
        self.intents: dict[str, Intent] = {}
        self.by_key: dict[str, object] = {}  # idempotency key -> first answer
        # The status new refunds start in: Stripe answers `pending` for some payment methods
        # and settles the refund later (charge.refund.updated).
        self.refund_status = "succeeded"
        self._ids = itertools.count(1)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_mem{next(self._ids)}"

    def new_card(self, number: str = GOOD_CARD) -> str:
        """A new payment method's id, as Stripe.js would create one for the card `number`."""
        method_id = self._new_id("pm")
        self.cards[method_id] = number
        return method_id

    async def aclose(self) -> None:
        """Nothing to release."""

    async def create_customer(self, *, account_id: int, email: str, key: str) -> str:
        """A customer id; the same key answers the same id."""
        if key not in self.by_key:
            customer_id = self._new_id("cus")
            self.customers[customer_id] = {"email": email, "account_id": account_id}
            self.by_key[key] = customer_id
        return str(self.by_key[key])

    async def customer_exists(self, *, customer_id: str) -> bool:
        return customer_id in self.customers

    def forget_customers(self) -> None:
        """Lose every customer, as a localstripe restarted empty does."""
        self.customers.clear()

    async def attach_payment_method(
        self, *, customer_id: str, payment_method_id: str, key: str
    ) -> CardDetails:
        """Attach a card made with `new_card`; any other id is declined, as Stripe does."""
        if payment_method_id not in self.cards or customer_id not in self.customers:
            raise errors.PaymentMethodDeclined(
                "That payment method was declined or is unknown to the payment processor.",
                field="paymentMethodId",
            )
        self.attached[payment_method_id] = customer_id
        return CardDetails(payment_method_id, "visa", self.cards[payment_method_id][-4:], 12, 2030)

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
        """A pending intent; the same key answers the same intent."""
        if key not in self.by_key:
            intent = Intent(
                self._new_id("pi"),
                amount,
                currency.lower(),
                customer_id,
                payment_method_id,
                metadata,
            )
            self.intents[intent.id] = intent
            self.by_key[key] = intent.id
        return str(self.by_key[key])

    async def confirm_intent(
        self, *, intent_id: str, key: str, on_session: bool = False
    ) -> IntentResult:
        """Charge the card: the declining card fails with `card_declined`, others succeed."""
        intent = self.intents[intent_id]
        if intent.status == "pending":
            if self.cards.get(intent.payment_method_id) == DECLINED_ON_CHARGE:
                intent.status, intent.failure_code = "failed", "card_declined"
            else:
                intent.status, intent.charge_id = "succeeded", self._new_id("ch")
        return intent.result()

    async def cancel_unless_paid(self, *, intent_id: str, key: str) -> IntentResult:
        """Cancel a pending intent (reported as failed); any other is left as it is."""
        intent = self.intents[intent_id]
        if intent.status == "pending":
            intent.status = "failed"
        return intent.result()

    async def client_secret(self, *, intent_id: str) -> str | None:
        """None: this fake's intents never wait for the customer to authenticate."""
        return None

    async def retrieve_intent(self, *, intent_id: str) -> IntentResult:
        """Where the intent is."""
        return self.intents[intent_id].result()

    async def refund(
        self,
        *,
        intent_id: str,
        amount: int,
        reason: str,
        key: str,
        metadata: dict[str, str] | None = None,
    ) -> RefundResult:
        """Refund a paid intent up to what is left of it; otherwise REFUND_REFUSED."""
        if key in self.by_key:
            answer = self.by_key[key]
            assert isinstance(answer, RefundResult)
            return answer
        intent = self.intents.get(intent_id)
        given = (
            [r for r in intent.refunds if r["status"] not in ("failed", "canceled")]
            if intent
            else []
        )
        refunded = sum(r["amount"] for r in given)
        if intent is None or intent.status != "succeeded" or amount > intent.amount - refunded:
            raise errors.RefundRefused(
                "The payment processor refused the refund; nothing was refunded.", field="amount"
            )
        refund_id = self._new_id("re")
        intent.refunds.append(
            {
                "id": refund_id,
                "amount": amount,
                "charge": intent.charge_id,
                "payment_intent": intent.id,
                "status": self.refund_status,
                "metadata": {**(metadata or {}), "reason": reason[:500]},
            }
        )
        answer = RefundResult(refund_id, self.refund_status)
        self.by_key[key] = answer
        return answer

    async def find_refund(
        self, *, intent_id: str, metadata_key: str, value: str
    ) -> RefundResult | None:
        """An earlier refund of the intent tagged `metadata_key` = `value`, if any."""
        intent = self.intents.get(intent_id)
        for refund in intent.refunds if intent else []:
            if refund["metadata"].get(metadata_key) == value:
                return RefundResult(str(refund["id"]), str(refund["status"]))
        return None

    async def list_refunds(self, *, charge_id: str) -> list[dict[str, Any]]:
        """Every refund of a charge."""
        return [
            dict(r) for i in self.intents.values() if i.charge_id == charge_id for r in i.refunds
        ]

    async def list_intents(self) -> list[Any]:
        """Not faked: reconciliation compares Stripe's own objects (tested on localstripe)."""
        raise NotImplementedError("reconciliation is tested against localstripe")

    async def list_charges(self) -> list[Any]:
        """Not faked: reconciliation compares Stripe's own objects (tested on localstripe)."""
        raise NotImplementedError("reconciliation is tested against localstripe")
