"""Stripe events, applied exactly once: the event's row (by Stripe's event id) is inserted in
the same transaction as its effect, so a redelivery, or the same event delivered twice at
once, finds the row and does nothing. Every handled effect is also safe in any order."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit.actions import Actor, record_entry
from models.base import conflict_insert
from models.billing import charges, disputes, payments, refund_updates
from models.billing.charges import text_field
from models.billing.errors import InvalidWebhookPayload
from models.billing.gateway import IntentResult
from models.billing.ledger import FAILED, PENDING, SUCCEEDED, Payment, StripeEvent
from models.billing.setup import BillingSetup

log = logging.getLogger("chirp.billing")

INTENT_SUCCEEDED = "payment_intent.succeeded"
INTENT_FAILED = "payment_intent.payment_failed"
CHARGE_REFUNDED = "charge.refunded"
# A refund settling after it was made: Stripe sends charge.refund.updated; API versions from
# 2024 also send refund.updated and refund.failed (the same refund object).
REFUND_EVENTS = ("charge.refund.updated", "refund.updated", "refund.failed")
DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed")


@dataclass(frozen=True)
class Event:
    """A Stripe event's envelope, checked."""

    id: str
    type: str
    created: datetime
    object: Mapping[str, Any]


@dataclass(frozen=True)
class Receipt:
    """What receiving an event did: `recorded` False for a duplicate (nothing done);
    `payment_outcome` (succeeded, failed) when it settled a pending payment."""

    recorded: bool
    payment_outcome: str | None = None


def parse_event(event: object) -> Event:
    """The envelope of a Stripe event (a decoded JSON body), or INVALID_PAYLOAD."""
    if not isinstance(event, Mapping):
        raise InvalidWebhookPayload("A Stripe event is a JSON object.")
    event_id, kind, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 100:
        raise InvalidWebhookPayload("The event has no valid `id`.", field="id")
    if not isinstance(kind, str) or not 0 < len(kind) <= 64:
        raise InvalidWebhookPayload("The event has no valid `type`.", field="type")
    if isinstance(created, bool) or not isinstance(created, int) or not 0 < created < 2**33:
        raise InvalidWebhookPayload("The event has no valid `created`.", field="created")
    if not isinstance(obj, Mapping):
        raise InvalidWebhookPayload("The event has no `data.object`.", field="data")
    return Event(event_id, kind, datetime.fromtimestamp(created, UTC), obj)


async def receive_event(
    session: AsyncSession, setup: BillingSetup, *, event: object, now: datetime
) -> Receipt:
    """Record a Stripe event and apply its effect in the caller's transaction, and tell the
    caller what changed (for its metrics): `recorded` False, and nothing done, when the event
    was recorded already. Unknown types are recorded only."""
    parsed = parse_event(event)
    insert = conflict_insert(session)
    # A concurrent delivery of the same event waits on the primary key until this
    # transaction ends, then inserts nothing: it is the duplicate, whoever came first.
    inserted = await session.scalar(
        insert(StripeEvent)
        .values(id=parsed.id, type=parsed.type, stripe_created_at=parsed.created, received_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StripeEvent.id)
    )
    if inserted is None:
        return Receipt(recorded=False)
    handler = _HANDLERS.get(parsed.type)
    if handler is None:
        return Receipt(recorded=True)
    return Receipt(recorded=True, payment_outcome=await handler(session, setup, parsed, now))


async def complete_event(setup: BillingSetup, event: dict[str, Any]) -> dict[str, Any]:
    """Fetch from Stripe what an event leaves out and its effect needs, before the
    transaction: a charge.refunded's refunds (absent from charges in recent API versions).
    Raises PAYMENT_PROCESSOR_UNAVAILABLE when Stripe does not answer (Stripe retries)."""
    parsed = parse_event(event)
    if parsed.type != CHARGE_REFUNDED or charges.refunds_listed(parsed.object):
        return event
    charge_id = text_field(parsed.object, "id")
    assert charge_id is not None
    refunds = await setup.gateway.list_refunds(charge_id=charge_id)
    charge = {**parsed.object, "refunds": {"object": "list", "data": refunds, "has_more": False}}
    return {**event, "data": {**event["data"], "object": charge}}


Handler = Callable[[AsyncSession, BillingSetup, Event, datetime], Awaitable[str | None]]


async def _intent(
    session: AsyncSession, setup: BillingSetup, event: Event, now: datetime
) -> str | None:
    result = intent_result(event)
    # Locked first, so whether this event is the one that settles it is certain.
    status = await session.scalar(
        select(Payment.status)
        .where(Payment.stripe_payment_intent_id == result.intent_id)
        .with_for_update()
    )
    if status is None:
        log.info("%s for intent %s, which is not a Chirp payment", event.type, result.intent_id)
        return None
    payment = await payments.apply_intent_result(session, setup, result=result, now=now)
    if status == PENDING and payment is not None and payment.status != PENDING:
        return payment.status
    return None


def intent_result(event: Event) -> IntentResult:
    """The outcome a payment_intent event reports, as Chirp's own call would see it."""
    obj = event.object
    intent_id = text_field(obj, "id")
    assert intent_id is not None
    charge_id = text_field(obj, "latest_charge", required=False)
    if event.type == INTENT_SUCCEEDED:
        return IntentResult(intent_id, SUCCEEDED, charge_id, "", "")
    error = obj.get("last_payment_error")
    error = error if isinstance(error, Mapping) else {}
    code, message = error.get("code"), error.get("message")
    return IntentResult(
        intent_id,
        FAILED,
        charge_id,
        code if isinstance(code, str) and code else "payment_failed",
        message if isinstance(message, str) else "",
    )


async def _refunded(
    session: AsyncSession, setup: BillingSetup, event: Event, now: datetime
) -> str | None:
    recorded, settled = await charges.record_refunds(session, setup, charge=event.object, now=now)
    for refund in recorded:
        note = refund.credit_note
        await record_entry(
            session,
            actor=Actor.system("stripe"),
            action="billing.refund_external",
            target_type="invoice",
            target_id=refund.invoice_id,
            reason="refunded outside Chirp (Stripe dashboard or API)",
            after={
                "amount": note.amount,
                "currency": note.currency,
                "credit_note_number": note.number,
                "stripe_refund_id": refund.refund_id,
            },
        )
    return SUCCEEDED if settled else None


async def _refund_update(
    session: AsyncSession, setup: BillingSetup, event: Event, now: datetime
) -> str | None:
    update = await refund_updates.apply_refund_update(session, setup, refund=event.object, now=now)
    return SUCCEEDED if update.payment_settled else None


async def _dispute(
    session: AsyncSession, setup: BillingSetup, event: Event, now: datetime
) -> str | None:
    change = await disputes.sync_dispute(
        session, setup, dispute=event.object, occurred_at=event.created, now=now
    )
    return SUCCEEDED if change.payment_settled else None


_HANDLERS: dict[str, Handler] = {
    INTENT_SUCCEEDED: _intent,
    INTENT_FAILED: _intent,
    CHARGE_REFUNDED: _refunded,
    **dict.fromkeys(REFUND_EVENTS, _refund_update),
    **dict.fromkeys(DISPUTE_EVENTS, _dispute),
}
