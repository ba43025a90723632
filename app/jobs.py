"""Background jobs on taskiq: Redis Streams in production, in-process on the embedded default.

Each domain registers its own jobs (`models/<domain>/registry.py`): one-line wrappers that
open a transaction and call one domain action; every job is idempotent, so at-least-once
delivery is enough. Here they become taskiq tasks, and every domain is asked which jobs an
event calls for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from taskiq import AsyncBroker, Context, InMemoryBroker, SimpleRetryMiddleware, TaskiqDepends
from taskiq_redis import RedisStreamBroker

from app.settings import Settings
from models.billing.setup import BillingSetup
from models.domains import DOMAINS
from models.integrations.retry import RetryPolicy
from models.integrations.sender import WebhookSender
from models.mail.actions import MailSender
from models.registry import Job, JobCall
from models.retention.rules import RetentionPolicy
from models.transactions import Transactions
from subscriptions.events import LiveEvent
from telemetry import logs, metrics
from telemetry.jobs import REQUEST_ID_LABEL, JobTelemetry
from telemetry.redis import redis_call


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


class BrokerServices:
    """The process's services as domain jobs and sweeps see them (`models.registry.Services`),
    read from the broker's state at each use."""

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker

    @property
    def transactions(self) -> Transactions:
        found: Transactions = self._broker.state.transactions
        return found

    @property
    def read_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        found: async_sessionmaker[AsyncSession] = self._broker.state.read_sessionmaker
        return found

    @property
    def webhook_sender(self) -> WebhookSender:
        found: Webhooks = self._broker.state.webhooks
        return found.sender

    @property
    def webhook_policy(self) -> RetryPolicy:
        found: Webhooks = self._broker.state.webhooks
        return found.policy

    @property
    def mail(self) -> MailSender:
        found: MailSender = self._broker.state.mail
        return found

    @property
    def billing(self) -> BillingSetup:
        found: BillingSetup = self._broker.state.billing
        return found

    @property
    def retention(self) -> RetentionPolicy:
        found: RetentionPolicy = self._broker.state.retention
        return found

    async def enqueue(self, name: str, kwargs: dict[str, Any]) -> None:
        """Enqueue a job, labelled with the request id in the log context."""
        await enqueue(self._broker, name, kwargs)


def _task(job: Job) -> Callable[..., Awaitable[object]]:
    """A domain's job as a taskiq task: the same keyword arguments, and the services."""

    async def task(context: Context = TaskiqDepends(), **kwargs: Any) -> object:
        return await job(BrokerServices(context.broker), **kwargs)

    task.__name__ = task.__qualname__ = getattr(job, "__name__", "job")
    task.__doc__ = job.__doc__
    return task


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
    for name, job in _jobs().items():
        broker.register_task(_task(job), task_name=name)
        for outcome in (metrics.SUCCEEDED, metrics.FAILED):
            metrics.JOBS.labels(name, outcome)
        metrics.JOB_DURATION.labels(name)
    return broker


def _jobs() -> dict[str, Job]:
    jobs: dict[str, Job] = {}
    for domain in DOMAINS:
        for name, job in domain.jobs.items():
            assert name not in jobs, f"job {name} is registered twice"
            jobs[name] = job
    return jobs


def jobs_for(event: LiveEvent) -> list[JobCall]:
    """The background work an event calls for, as every domain declares it."""
    return [job for domain in DOMAINS for job in domain.jobs_for(event)]


class JobQueue:
    """Enqueues the jobs for each dispatched event, labelled with the request id that caused
    it, so the job's log lines can be found from the request's."""

    def __init__(self, broker: AsyncBroker) -> None:
        self.broker = broker

    async def process(self, event: LiveEvent) -> None:
        for name, kwargs in jobs_for(event):
            await enqueue(self.broker, name, kwargs, request_id=event.request_id or "-")
