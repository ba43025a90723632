"""The delivery pipeline: create deliveries for an event, claim due ones, attempt one.

Each step is idempotent and safe in several workers at once:
- `create_deliveries`: one row per subscribed, enabled endpoint, unique (endpoint, event),
  and the event's fan-out marker in the same transaction: a second run does nothing, and
  `lost_fanouts` finds the deliverable events whose job never got this far;
- `claim_due`: rows whose `next_attempt_at` has passed are claimed by moving it one claim
  lease ahead (long enough to wait in a busy queue); whoever claims enqueues the attempt
  job, which takes the short attempt lease when it starts;
- `attempt_delivery`: takes attempt number n only if the row still expects it, sends with no
  transaction open, then logs the attempt and schedules the next one (or marks the row
  delivered or failed) and counts the endpoint's failure streak, turning the endpoint off
  (audited as a system action) when the streak is long enough.
A worker that dies mid-attempt leaves a claimed row whose lease runs out; it is then due
again. So a crash loses nothing; at worst a receiver gets an event twice (it dedupes on the
event id)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import utcnow
from models.events.tables import Event
from models.integrations import catalogue, signing
from models.integrations.actions import disable, snapshot
from models.integrations.retry import RetryPolicy
from models.integrations.sender import Outcome, WebhookSender
from models.integrations.tables import (
    DELIVERED,
    FAILED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookFanout,
)
from models.transactions import Transactions, ensure_outside_transaction

log = logging.getLogger("chirp.webhooks")

SYSTEM = Actor.system("webhooks")
CLAIM_BATCH = 200
FANOUT_SCAN_BATCH = 500

Due = tuple[int, int]  # (delivery id, the attempt number to make)


async def create_deliveries(
    session: AsyncSession, *, event_seq: int, lease: timedelta
) -> list[Due]:
    """A pending delivery per enabled endpoint subscribed to the event (and added before it
    happened), claimed for `lease` so the caller can enqueue the first attempts at once;
    returns only the rows it created. Records the event's fan-out in the same transaction;
    an event already fanned out gets nothing more."""
    event = await session.scalar(select(Event).where(Event.seq == event_seq))
    if event is None or not catalogue.is_deliverable(event.type):
        return []
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # Concurrent runs for one event (the job and a sweep) queue on this row's key; the
    # later one then finds it and stops.
    marked = await session.scalar(
        dialect.insert(WebhookFanout)
        .values(event_seq=event_seq, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["event_seq"])
        .returning(WebhookFanout.event_seq)
    )
    if marked is None:
        return []
    # An endpoint receives events that happened after it was added, never a backlog.
    endpoints = await session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
            WebhookEndpoint.enabled, WebhookEndpoint.created_at <= event.created_at
        )
    )
    now = utcnow()
    rows = [
        {
            "endpoint_id": endpoint_id,
            "event_id": event.id,
            "event_type": event.type,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now + lease,
            "created_at": now,
            "updated_at": now,
        }
        for endpoint_id, types in endpoints
        if event.type in types
    ]
    if not rows:
        return []
    created = await session.scalars(
        dialect.insert(WebhookDelivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
        .returning(WebhookDelivery.id)
    )
    return [(delivery_id, 1) for delivery_id in created]


@dataclass(frozen=True, slots=True)
class FanoutScan:
    """What one look for lost fan-outs found: the events to fan out now, and the seq up to
    which every deliverable event is settled (fanned out, or given up as too old)."""

    lost: list[int]
    settled_through: int


async def newest_seq(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.max(Event.seq))) or 0)


async def lost_fanouts(
    session: AsyncSession,
    *,
    after: int,
    grace: timedelta,
    oldest: datetime,
    limit: int = FANOUT_SCAN_BATCH,
) -> FanoutScan:
    """Deliverable events after seq `after` that have no fan-out marker although the
    dispatcher handed them to their job at least `grace` ago (the job failed for good or
    was lost). The look runs along the seq index from `after` and stops at the first event
    that may still be on its way (not yet processed, or within the grace period); events
    created before `oldest` are not looked at again."""
    top = await newest_seq(session)
    rows = (
        await session.execute(
            select(Event.seq, Event.created_at, Event.processed_at, WebhookFanout.event_seq)
            .outerjoin(WebhookFanout, WebhookFanout.event_seq == Event.seq)
            .where(
                Event.seq > after,
                Event.seq <= top,
                Event.type.in_(list(catalogue.DELIVERABLE)),
            )
            .order_by(Event.seq)
            .limit(limit)
        )
    ).all()
    now = utcnow()
    lost: list[int] = []
    settled = after
    for seq, created_at, processed_at, marker in rows:
        assert seq is not None  # selected by seq
        if marker is not None or created_at < oldest:
            settled = seq
            continue
        if processed_at is None or processed_at > now - grace:
            return FanoutScan(lost, settled)  # this one may be on its way: look again later
        lost.append(seq)
        settled = seq
    # Fewer than `limit` rows: every deliverable event up to `top` was among them.
    return FanoutScan(lost, top if len(rows) < limit else settled)


def _due(now: datetime) -> Select[int, int]:
    return (
        select(WebhookDelivery.id, WebhookDelivery.attempts)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.enabled,
        )
        .order_by(WebhookDelivery.next_attempt_at)
    )


async def any_due(session: AsyncSession) -> bool:
    return (await session.execute(_due(utcnow()).limit(1))).first() is not None


async def claim_due(
    session: AsyncSession, *, lease: timedelta, limit: int = CLAIM_BATCH
) -> list[Due]:
    """Claim deliveries that are due (endpoint enabled) for `lease`; the caller enqueues
    their attempts. Rows another worker holds are skipped (PostgreSQL)."""
    now = utcnow()
    stmt = _due(now).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, key_share=True, of=WebhookDelivery)
    due = [(row.id, row.attempts + 1) for row in await session.execute(stmt)]
    if due:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([d for d, _ in due]))
            .values(next_attempt_at=now + lease)
        )
    return due


@dataclass(frozen=True, slots=True)
class Request:
    endpoint_id: int
    url: str
    body: bytes
    headers: dict[str, str]


async def start_attempt(
    session: AsyncSession, *, delivery_id: int, attempt: int, lease: timedelta
) -> Request | None:
    """Take attempt number `attempt` if the row still expects it, and build the signed
    request; None for a duplicate or stale job, a finished delivery, an endpoint off or gone."""
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update={"key_share": True})
    if delivery is None or delivery.status != PENDING or delivery.attempts != attempt - 1:
        return None
    endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
    event = await session.get(Event, delivery.event_id)
    if endpoint is None or not endpoint.enabled or event is None:
        return None
    now = utcnow()
    delivery.attempts, delivery.next_attempt_at = attempt, now + lease
    body = catalogue.webhook_body(
        event_id=event.id, event_type=event.type, created_at=event.created_at, payload=event.payload
    )
    keys = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        keys.append(endpoint.previous_secret)
    headers = {
        "content-type": "application/json",
        "chirp-event-id": catalogue.public_event_id(event.id),
        "chirp-event-type": event.type,
        "chirp-delivery-id": catalogue.public_delivery_id(delivery.id),
        "chirp-delivery-attempt": str(attempt),
        "chirp-signature": signing.signature_header(keys, body, int(time.time())),
    }
    return Request(endpoint_id=endpoint.id, url=endpoint.url, body=body, headers=headers)


async def finish_attempt(
    session: AsyncSession,
    *,
    endpoint_id: int,
    delivery_id: int,
    attempt: int,
    outcome: Outcome,
    policy: RetryPolicy,
) -> None:
    """Log the attempt; then mark the delivery delivered, schedule its next attempt, or give
    it up; and keep the endpoint's failure streak, turning it off when it is too long."""
    # The endpoint first, then the delivery: the order every writer of both uses.
    endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update={"key_share": True})
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update={"key_share": True})
    if endpoint is None or delivery is None:
        return  # deleted meanwhile, with its log
    session.add(
        WebhookAttempt(
            delivery_id=delivery_id,
            number=attempt,
            status_code=outcome.status_code,
            response_excerpt=outcome.excerpt,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    )
    if delivery.status != PENDING or delivery.attempts != attempt:
        return
    now = utcnow()
    if outcome.ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = DELIVERED, now, None
        endpoint.consecutive_failures, endpoint.failing_since = 0, None
        return
    if attempt >= policy.max_attempts:
        delivery.status, delivery.next_attempt_at = FAILED, None
    else:
        delivery.next_attempt_at = now + policy.delay(attempt)
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    if endpoint.enabled and policy.should_disable(
        failures=endpoint.consecutive_failures, failing_since=endpoint.failing_since, now=now
    ):
        await _auto_disable(session, endpoint, outcome)


async def _auto_disable(session: AsyncSession, endpoint: WebhookEndpoint, last: Outcome) -> None:
    before = snapshot(endpoint)
    failures = endpoint.consecutive_failures
    disable(endpoint, why=f"Turned off automatically after {failures} failed attempts in a row.")
    await session.flush()
    # For the operators' log alerting; the URL is left out (it may carry a token).
    log.warning(
        "webhook endpoint %d turned off automatically after %d failed attempts in a row",
        endpoint.id,
        failures,
    )
    await audit.record_entry(
        session,
        actor=SYSTEM,
        action="webhook.auto_disable",
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        reason=endpoint.disabled_reason,
        before=before,
        after={
            **snapshot(endpoint),
            "consecutive_failures": failures,
            "last_error": last.error or f"HTTP {last.status_code}",
        },
    )


async def attempt_delivery(
    transactions: Transactions,
    sender: WebhookSender,
    policy: RetryPolicy,
    *,
    delivery_id: int,
    attempt: int,
) -> Outcome | None:
    """Make one attempt of a delivery; no transaction is open while the receiver answers.
    Returns what the receiver did, or None when the attempt was not this job's to make."""
    async with transactions.begin() as session:
        request = await start_attempt(
            session, delivery_id=delivery_id, attempt=attempt, lease=policy.lease
        )
    if request is None:
        return None
    ensure_outside_transaction("delivering a webhook")
    outcome = await sender.post(request.url, request.body, request.headers)
    async with transactions.begin() as session:
        await finish_attempt(
            session,
            endpoint_id=request.endpoint_id,
            delivery_id=delivery_id,
            attempt=attempt,
            outcome=outcome,
            policy=policy,
        )
    return outcome
