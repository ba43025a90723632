"""Reconciliation: Chirp's payments against Stripe's PaymentIntents and charges. Every
difference is reported; nothing is changed (an operator decides, see docs/billing.md)."""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.billing.gateway import result_of
from models.billing.ledger import Payment
from models.billing.processor import PaymentGateway
from models.billing.tables import BillingCustomer

log = logging.getLogger("chirp.billing.reconcile")


class MismatchKind(enum.Enum):
    # An intent of a Chirp customer that no payment records (Chirp crashed before storing
    # the intent's id, or someone charged the customer in Stripe's dashboard).
    MISSING_IN_CHIRP = "missing_in_chirp"
    # A payment whose intent Stripe does not have.
    MISSING_IN_STRIPE = "missing_in_stripe"
    STATUS_DIFFERS = "status_differs"
    AMOUNT_DIFFERS = "amount_differs"
    REFUNDED_DIFFERS = "refunded_differs"


@dataclass(frozen=True)
class Mismatch:
    kind: MismatchKind
    intent_id: str
    payment_id: int | None
    chirp: str
    stripe: str

    def describe(self) -> str:
        payment = f"payment {self.payment_id}" if self.payment_id is not None else "no payment"
        return (
            f"{self.kind.name} {self.intent_id} ({payment}): "
            f"chirp={self.chirp or '-'} stripe={self.stripe or '-'}"
        )


async def reconcile_payments(
    read_sessionmaker: async_sessionmaker[AsyncSession],
    gateway: PaymentGateway,
    *,
    now: datetime,
    settle: timedelta = timedelta(minutes=5),
) -> list[Mismatch]:
    """Compare every payment with its PaymentIntent (status, amount, currency, refunded).
    Payments and intents changed within `settle` of `now` are left out: their webhook or
    our own answer may still be on its way."""
    intents = await gateway.list_intents()
    refunded = {
        _id(charge.get("payment_intent")): int(charge.get("amount_refunded") or 0)
        for charge in (_plain(c) for c in await gateway.list_charges())
        if charge.get("payment_intent")
    }
    async with read_sessionmaker() as session:
        rows = list(
            await session.scalars(
                select(Payment).where(Payment.stripe_payment_intent_id.is_not(None))
            )
        )
        customers = set(
            await session.scalars(
                select(BillingCustomer.stripe_customer_id).where(
                    BillingCustomer.stripe_customer_id.is_not(None)
                )
            )
        )
    cutoff = now - settle
    by_intent = {p.stripe_payment_intent_id: p for p in rows}
    found: list[Mismatch] = []
    seen: set[str] = set()
    for raw in intents:
        intent = _plain(raw)
        intent_id = str(intent["id"])
        seen.add(intent_id)
        payment = by_intent.get(intent_id)
        if payment is None:
            # Only our customers' intents: the account may serve other systems too.
            ours = _id(intent.get("customer")) in customers
            created = int(intent.get("created") or 0)
            if ours and created <= cutoff.timestamp():
                found.append(
                    Mismatch(
                        MismatchKind.MISSING_IN_CHIRP,
                        intent_id,
                        None,
                        "",
                        f"{intent.get('status')} {intent.get('amount')} {intent.get('currency')}",
                    )
                )
            continue
        if payment.updated_at > cutoff:
            continue
        found.extend(_compare(payment, raw, intent, refunded.get(intent_id, 0)))
    for payment in rows:
        missing = payment.stripe_payment_intent_id
        if missing and missing not in seen and payment.updated_at <= cutoff:
            found.append(
                Mismatch(MismatchKind.MISSING_IN_STRIPE, missing, payment.id, payment.status, "")
            )
    for mismatch in found:
        log.warning("billing reconcile: %s", mismatch.describe())
    return found


def _compare(
    payment: Payment, raw: Any, intent: Mapping[str, Any], refunded: int
) -> list[Mismatch]:
    intent_id = str(intent["id"])
    found = []
    stripe_status = result_of(raw).status
    if stripe_status != payment.status:
        found.append(
            Mismatch(
                MismatchKind.STATUS_DIFFERS,
                intent_id,
                payment.id,
                payment.status,
                f"{stripe_status} ({intent.get('status')})",
            )
        )
    amount, currency = intent.get("amount"), str(intent.get("currency") or "").upper()
    if amount != payment.amount or currency != payment.currency:
        found.append(
            Mismatch(
                MismatchKind.AMOUNT_DIFFERS,
                intent_id,
                payment.id,
                f"{payment.amount} {payment.currency}",
                f"{amount} {currency}",
            )
        )
    if refunded != payment.amount_refunded:
        found.append(
            Mismatch(
                MismatchKind.REFUNDED_DIFFERS,
                intent_id,
                payment.id,
                str(payment.amount_refunded),
                str(refunded),
            )
        )
    return found


def _plain(obj: Any) -> dict[str, Any]:
    value = obj.to_dict() if hasattr(obj, "to_dict") else obj
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else None
