"""Webhook jobs: create an event's deliveries, and make one attempt of a delivery."""

from __future__ import annotations

import time
from collections.abc import Iterable

from models.integrations import deliveries
from models.registry import Enqueue, Services
from telemetry import metrics

CREATE_DELIVERIES = "chirp.create_webhook_deliveries"
ATTEMPT_WEBHOOK = "chirp.attempt_webhook_delivery"


async def create_webhook_deliveries(services: Services, *, event_seq: int) -> int:
    """Create the deliveries of a deliverable event and enqueue their first attempts. If
    this job fails for good, the delivery sweep finds the event unmarked and does it."""
    lease = services.webhook_policy.claim_lease
    async with services.transactions.begin() as session:
        due = await deliveries.create_deliveries(session, event_seq=event_seq, lease=lease)
    await enqueue_attempts(services.enqueue, due)
    return len(due)


async def attempt_webhook_delivery(services: Services, *, delivery_id: int, attempt: int) -> bool:
    """Make attempt number `attempt` of a webhook delivery (a stale duplicate does nothing)."""
    started = time.perf_counter()
    outcome = await deliveries.attempt_delivery(
        services.transactions,
        services.webhook_sender,
        services.webhook_policy,
        delivery_id=delivery_id,
        attempt=attempt,
    )
    if outcome is None:  # a stale duplicate of an attempt already made: nothing was sent
        return False
    result = metrics.SUCCEEDED if outcome.ok else metrics.FAILED
    metrics.WEBHOOKS.labels("outbound", result).inc()
    metrics.WEBHOOK_DURATION.labels("outbound").observe(time.perf_counter() - started)
    return outcome.ok


async def enqueue_attempts(enqueue: Enqueue, due: Iterable[tuple[int, int]]) -> None:
    """Enqueue an attempt job for each (delivery id, attempt number)."""
    for delivery_id, attempt in due:
        await enqueue(ATTEMPT_WEBHOOK, {"delivery_id": delivery_id, "attempt": attempt})
