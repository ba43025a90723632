"""Background jobs on taskiq: Redis Streams in production, in-process on the embedded default.

Jobs are one-line wrappers that open a transaction and call one domain action; every job is
idempotent, so at-least-once delivery is enough."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from taskiq import AsyncBroker, Context, InMemoryBroker, SimpleRetryMiddleware, TaskiqDepends
from taskiq_redis import RedisStreamBroker

from app.settings import Settings
from models.events import actions as events
from models.integrations import catalogue
from models.integrations import deliveries as webhooks
from models.integrations.retry import RetryPolicy
from models.integrations.sender import WebhookSender
from models.mail import actions as mail
from models.timeline import actions as timeline
from models.transactions import Transactions
from subscriptions.events import LiveEvent
from telemetry import logs, metrics
from telemetry.jobs import REQUEST_ID_LABEL, JobTelemetry
from telemetry.redis import redis_call

ATTEMPT_WEBHOOK = "chirp.attempt_webhook_delivery"


@dataclass(frozen=True)
class Webhooks:
    """What webhook jobs share in a process: the HTTP client and the retry policy."""

    sender: WebhookSender
    policy: RetryPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> Webhooks:
        policy = RetryPolicy(
            base=settings.webhook_retry_base,
            cap=settings.webhook_retry_max,
            max_attempts=settings.webhook_max_attempts,
            disable_after=settings.webhook_disable_after,
            failing_period=settings.webhook_failing_period,
            timeout=settings.webhook_timeout,
        )
        sender = WebhookSender(timeout=settings.webhook_timeout, production=settings.is_production)
        return cls(sender=sender, policy=policy)


def _transactions(context: Context) -> Transactions:
    found: Transactions = context.state.transactions
    return found


def _webhooks(context: Context) -> Webhooks:
    found: Webhooks = context.state.webhooks
    return found


async def fan_out_post(post_id: int, context: Context = TaskiqDepends()) -> int:
    """Write a new post into its author's followers' home feeds."""
    async with _transactions(context).begin() as session:
        return await timeline.fan_out_post(session, post_id=post_id)


async def backfill_follow(
    follower_id: int, followee_id: int, context: Context = TaskiqDepends()
) -> int:
    """Bring a newly followed account's recent posts into the follower's home feed."""
    async with _transactions(context).begin() as session:
        return await timeline.backfill_follow(
            session, follower_id=follower_id, followee_id=followee_id
        )


async def create_webhook_deliveries(event_seq: int, context: Context = TaskiqDepends()) -> int:
    """Create the deliveries of a deliverable event and enqueue their first attempts. If
    this job fails for good, the delivery sweep finds the event unmarked and does it."""
    lease = _webhooks(context).policy.claim_lease
    async with _transactions(context).begin() as session:
        due = await webhooks.create_deliveries(session, event_seq=event_seq, lease=lease)
    await enqueue_attempts(context.broker, due)
    return len(due)


async def attempt_webhook_delivery(
    delivery_id: int, attempt: int, context: Context = TaskiqDepends()
) -> bool:
    """Make attempt number `attempt` of a webhook delivery (a stale duplicate does nothing)."""
    found = _webhooks(context)
    started = time.perf_counter()
    outcome = await webhooks.attempt_delivery(
        _transactions(context), found.sender, found.policy, delivery_id=delivery_id, attempt=attempt
    )
    if outcome is None:  # a stale duplicate of an attempt already made: nothing was sent
        return False
    result = metrics.SUCCEEDED if outcome.ok else metrics.FAILED
    metrics.WEBHOOKS.labels("outbound", result).inc()
    metrics.WEBHOOK_DURATION.labels("outbound").observe(time.perf_counter() - started)
    return outcome.ok


async def send_email(email_id: int, context: Context = TaskiqDepends()) -> bool:
    """Send one queued email (one already sent or being sent is left alone)."""
    sender: mail.MailSender = context.state.mail
    return await mail.send_queued_email(_transactions(context), sender, email_id=email_id)


async def enqueue(
    broker: AsyncBroker, name: str, kwargs: dict[str, Any], *, request_id: str | None = None
) -> None:
    """Enqueue one job: labelled with the request id that caused it (by default the one in
    the log context, as inside a job), timed as a Redis call, counted."""
    task = broker.find_task(name)
    assert task is not None, name
    label = request_id or logs.bound("request_id") or "-"
    kicker = task.kicker().with_labels(**{REQUEST_ID_LABEL: label})
    if isinstance(broker, InMemoryBroker):
        await kicker.kiq(**kwargs)
    else:
        with redis_call("enqueue"):
            await kicker.kiq(**kwargs)
    metrics.JOBS_ENQUEUED.labels(name).inc()


async def enqueue_attempts(broker: AsyncBroker, due: Iterable[tuple[int, int]]) -> None:
    for delivery_id, attempt in due:
        await enqueue(broker, ATTEMPT_WEBHOOK, {"delivery_id": delivery_id, "attempt": attempt})


TASKS: dict[str, Any] = {
    "chirp.fan_out_post": fan_out_post,
    "chirp.backfill_follow": backfill_follow,
    "chirp.create_webhook_deliveries": create_webhook_deliveries,
    ATTEMPT_WEBHOOK: attempt_webhook_delivery,
    "chirp.send_email": send_email,
}


def create_broker(settings: Settings) -> AsyncBroker:
    broker: AsyncBroker
    if settings.redis_url:
        broker = RedisStreamBroker(
            settings.redis_url,
            queue_name=f"{settings.redis_prefix}:jobs",
            consumer_group_name=f"{settings.redis_prefix}:workers",
            xread_block=500,
            # A group created on a restarted, empty Redis must read the stream from its
            # start, or jobs queued before the worker noticed would be skipped.
            consumer_id="0",
        )
    else:
        broker = InMemoryBroker()
    # A job that fails (a deadlock, a dropped connection) runs again at once, up to five
    # times; jobs are idempotent, so a retry after a partial run is harmless.
    broker.add_middlewares(
        SimpleRetryMiddleware(default_retry_count=5, default_retry_label=True), JobTelemetry()
    )
    for name, func in TASKS.items():
        broker.register_task(func, task_name=name)
        for outcome in (metrics.SUCCEEDED, metrics.FAILED):
            metrics.JOBS.labels(name, outcome)
        metrics.JOB_DURATION.labels(name)
    return broker


def jobs_for(event: LiveEvent) -> list[tuple[str, dict[str, Any]]]:
    """The background work an event calls for."""
    payload = event.payload
    jobs: list[tuple[str, dict[str, Any]]] = []
    if catalogue.is_deliverable(event.type):
        jobs.append(("chirp.create_webhook_deliveries", {"event_seq": event.seq}))
    if event.type == events.POST_CREATED:
        jobs.append(("chirp.fan_out_post", {"post_id": payload["post_id"]}))
    elif event.type == events.ACCOUNT_FOLLOWED:
        jobs.append(
            (
                "chirp.backfill_follow",
                {"follower_id": payload["follower_id"], "followee_id": payload["followee_id"]},
            )
        )
    elif event.type == mail.EMAIL_QUEUED:
        jobs.append(("chirp.send_email", {"email_id": payload["email_id"]}))
    return jobs


class JobQueue:
    """Enqueues the jobs for each dispatched event, labelled with the request id that caused
    it, so the job's log lines can be found from the request's."""

    def __init__(self, broker: AsyncBroker) -> None:
        self.broker = broker

    async def process(self, event: LiveEvent) -> None:
        for name, kwargs in jobs_for(event):
            await enqueue(self.broker, name, kwargs, request_id=event.request_id or "-")
