"""Background jobs on taskiq: Redis Streams in production, in-process on the embedded default.

Each domain registers its own jobs (`models/<domain>/registry.py`): one-line wrappers that
open a transaction and call one domain action; every job is idempotent, so at-least-once
delivery is enough. Here they become taskiq tasks, and every domain is asked which jobs an
event calls for. Those jobs are written to the job ledger (`models/events/jobs.py`) before
they are enqueued; their messages carry the ledger id (a label), and a run goes through the
ledger, which retries, re-enqueues and parks. The queue itself never retries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from taskiq import AsyncBroker, Context, InMemoryBroker, TaskiqDepends
from taskiq_redis import RedisStreamBroker

from app.settings import Settings
from models.billing.setup import BillingSetup
from models.domains import DOMAINS
from models.events import jobs as ledger
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
    def job_policy(self) -> ledger.JobPolicy:
        found: ledger.JobPolicy = self._broker.state.job_policy
        return found

    @property
    def retention(self) -> RetentionPolicy:
        found: RetentionPolicy = self._broker.state.retention
        return found

    async def enqueue(self, name: str, kwargs: dict[str, Any]) -> None:
        """Enqueue a job, labelled with the request id in the log context."""
        await enqueue(self._broker, name, kwargs)

    async def enqueue_ticket(self, ticket: ledger.Ticket) -> None:
        """Enqueue a ledger job, labelled with its ledger id and its event's request id."""
        await enqueue_ticket(self._broker, ticket)


def _task(job: Job) -> Callable[..., Awaitable[object]]:
    """A domain's job as a taskiq task: the same keyword arguments, and the services; a
    message with a ledger id runs through the ledger."""

    async def task(context: Context = TaskiqDepends(), **kwargs: Any) -> object:
        services = BrokerServices(context.broker)
        ticket = context.message.labels.get(LEDGER_LABEL)
        if ticket is None:
            return await job(services, **kwargs)
        return await ledger.run(
            services.transactions,
            int(ticket),
            context.message.task_name,
            lambda: job(services, **kwargs),
            policy=services.job_policy,
        )

    task.__name__ = task.__qualname__ = getattr(job, "__name__", "job")
    task.__doc__ = job.__doc__
    return task


LEDGER_LABEL = "ledger_id"


async def enqueue(
    broker: AsyncBroker,
    name: str,
    kwargs: Mapping[str, Any],
    *,
    request_id: str | None = None,
    ticket: int | None = None,
) -> None:
    """Enqueue one job: labelled with the request id that caused it (by default the one in
    the log context, as inside a job) and its ledger id if it has one, timed as a Redis
    call, counted."""
    task = broker.find_task(name)
    assert task is not None, name
    labels: dict[str, Any] = {REQUEST_ID_LABEL: request_id or logs.bound("request_id") or "-"}
    if ticket is not None:
        labels[LEDGER_LABEL] = ticket
    kicker = task.kicker().with_labels(**labels)
    if isinstance(broker, InMemoryBroker):
        await kicker.kiq(**kwargs)
    else:
        with redis_call("enqueue"):
            await kicker.kiq(**kwargs)
    metrics.JOBS_ENQUEUED.labels(name).inc()


async def enqueue_ticket(broker: AsyncBroker, ticket: ledger.Ticket) -> None:
    await enqueue(
        broker, ticket.name, ticket.kwargs, request_id=ticket.request_id or "-", ticket=ticket.id
    )


def job_policy(settings: Settings) -> ledger.JobPolicy:
    return ledger.JobPolicy(
        lease=settings.job_reclaim_seconds,
        retry_base=settings.job_retry_base,
        retry_max=settings.job_retry_max,
        max_attempts=settings.job_max_attempts,
        retention=settings.job_retention_days * 86_400,
    )


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
            # A message a dead worker took is handed out again after this idle time (the
            # ledger re-enqueues its job on the same clock, whether or not Redis kept it).
            idle_timeout=int(settings.job_reclaim_seconds * 1000),
        )
    else:
        broker = InMemoryBroker()
    broker.state.job_policy = job_policy(settings)
    # No queue-level retry: a failed ledger job is retried by the ledger, with a backoff and
    # a parking place; a webhook attempt by its delivery's own schedule.
    broker.add_middlewares(JobTelemetry())
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
    """The dispatcher's view of the jobs: which an event calls for, how long the ledger
    holds them, and how a ledger job reaches the queue."""

    def __init__(self, broker: AsyncBroker) -> None:
        self.broker = broker

    @property
    def policy(self) -> ledger.JobPolicy:
        found: ledger.JobPolicy = self.broker.state.job_policy
        return found

    def jobs_for(self, event: LiveEvent) -> list[JobCall]:
        return jobs_for(event)

    async def enqueue(self, ticket: ledger.Ticket) -> None:
        await enqueue_ticket(self.broker, ticket)
