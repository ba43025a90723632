"""What each pruned table keeps: a row goes only when it is older than its table's retention
(by `created_at`) and finished, that is, nothing live still reads it.

- `events`: published and processed, not referenced by a webhook delivery, and never the
  row with the highest `seq` (the dispatcher numbers from `max(seq) + 1`, and a resuming
  subscriber's cursor is "ahead" only past it) nor the highest `id`.
- `webhook_fanouts`: the markers the delivery sweep reads for at most `FANOUT_LOOKBACK`.
- `webhook_deliveries` (with their attempts): delivered or given up, never pending.
- `outbound_emails`: sent or given up, never one waiting for a send or a retry.
- `failed_logins`: the support history only; the log-in rate limits count in the throttle's
  own store and the "address seen in 90 days" exemption reads `login_sessions`, kept.
- `billing_stripe_requests`: Stripe keeps an idempotency key for 24 hours; past that a stored
  key protects nothing, and retries find their outcome on the payment, customer or credit
  note row.

Every pruned table with an autoincrement id also keeps its newest row: SQLite hands out
`max(id) + 1`, so removing the newest row would give its id (a public one, for events and
deliveries) to the next row. Webhook attempts go with their delivery whatever their id
(attempt ids are never shown)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select, true
from sqlalchemy.orm import InstrumentedAttribute

from models.accounts import tables as accounts
from models.billing import tables as billing
from models.events import tables as events
from models.integrations import tables as integrations
from models.mail import tables as mail

EVENTS = "events"
WEBHOOK_FANOUTS = "webhook_fanouts"
WEBHOOK_DELIVERIES = "webhook_deliveries"
OUTBOUND_EMAILS = "outbound_emails"
FAILED_LOGINS = "failed_logins"
STRIPE_REQUESTS = "billing_stripe_requests"

# Rows per DELETE and DELETEs per table per sweep: short transactions, short locks.
BATCH = 1000
SWEEP_BATCHES = 5


@dataclass(frozen=True)
class Child:
    """Rows of another table that belong to a pruned row and go with it (first)."""

    table: type[Any]
    parent_key: InstrumentedAttribute[int]


@dataclass(frozen=True)
class Rule:
    """How one table is pruned: `finished` says which rows nothing reads any more."""

    name: str
    table: type[Any]
    key: InstrumentedAttribute[Any]
    created: InstrumentedAttribute[datetime]
    finished: Callable[[], ColumnElement[bool]]
    # An integer autoincrement key: its highest value is never removed (see above).
    keep_newest: bool = True
    children: tuple[Child, ...] = ()

    def prunable(self, cutoff: datetime) -> ColumnElement[bool]:
        """Rows older than `cutoff` that nothing reads any more."""
        condition = and_(self.created < cutoff, self.finished())
        if self.keep_newest:
            newest = select(func.max(self.key)).scalar_subquery()
            condition = and_(condition, self.key < newest)
        return condition


def _event_finished() -> ColumnElement[bool]:
    event = events.Event
    delivery = integrations.WebhookDelivery
    job = events.QueuedJob
    return and_(
        event.seq.is_not(None),
        event.published_at.is_not(None),
        event.processed_at.is_not(None),
        event.seq < select(func.max(event.seq)).scalar_subquery(),
        ~exists().where(delivery.event_id == event.id),
        # A job the event called for that has not succeeded (waiting, retrying, parked)
        # still reads it.
        ~exists().where(job.event_seq == event.seq, job.done_at.is_(None)),
    )


def _always() -> ColumnElement[bool]:
    return true()


RULES: tuple[Rule, ...] = (
    Rule(
        EVENTS,
        events.Event,
        events.Event.id,
        events.Event.created_at,
        _event_finished,
    ),
    Rule(
        WEBHOOK_FANOUTS,
        integrations.WebhookFanout,
        integrations.WebhookFanout.event_seq,
        integrations.WebhookFanout.created_at,
        _always,
        keep_newest=False,
    ),
    Rule(
        WEBHOOK_DELIVERIES,
        integrations.WebhookDelivery,
        integrations.WebhookDelivery.id,
        integrations.WebhookDelivery.created_at,
        lambda: integrations.WebhookDelivery.status != integrations.PENDING,
        children=(Child(integrations.WebhookAttempt, integrations.WebhookAttempt.delivery_id),),
    ),
    Rule(
        OUTBOUND_EMAILS,
        mail.OutboundEmail,
        mail.OutboundEmail.id,
        mail.OutboundEmail.created_at,
        # Sent, or given up: no send or retry is due any more.
        lambda: mail.OutboundEmail.next_attempt_at.is_(None),
    ),
    Rule(
        FAILED_LOGINS,
        accounts.FailedLogin,
        accounts.FailedLogin.id,
        accounts.FailedLogin.created_at,
        _always,
    ),
    Rule(
        STRIPE_REQUESTS,
        billing.StripeRequest,
        billing.StripeRequest.key,
        billing.StripeRequest.created_at,
        _always,
        keep_newest=False,
    ),
)
BY_NAME: Mapping[str, Rule] = {rule.name: rule for rule in RULES}


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each table keeps its rows (a table missing from `periods` keeps them all),
    and how much one sweep removes."""

    periods: Mapping[str, timedelta] = field(default_factory=dict)
    batch: int = BATCH
    sweep_batches: int = SWEEP_BATCHES

    def cutoff(self, name: str, now: datetime) -> datetime | None:
        """Rows of table `name` created before this may go (None: the table is kept)."""
        period = self.periods.get(name)
        return None if period is None else now - period
