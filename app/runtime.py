"""Builds the process-wide services from settings, and starts and stops them in order."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from broadcaster import Broadcast
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session
from taskiq import AsyncBroker, InMemoryBroker

from app import db
from app.jobs import BrokerServices, JobQueue, Webhooks, create_broker
from app.mail import create_mail_sender
from app.periodic import Periodic
from app.probes import Probes
from app.settings import DEFAULT_RATE_LIMITS, Settings
from app.worker import Worker
from models.accounts import login_limits
from models.accounts.passwords import make_hasher
from models.billing import catalogue
from models.billing.gateway import StripeGateway
from models.billing.setup import BillingSetup
from models.domains import DOMAINS
from models.events.tables import Event
from models.registry import Runner, Sweep
from models.retention import rules
from models.retention.rules import RetentionPolicy
from models.throttle import Throttle
from models.timeline.reader import Reader, connect_options
from models.timeline.shared import LiveReads
from models.transactions import Transactions
from resolvers.context import Runtime
from subscriptions.backend import ResilientRedisBackend
from subscriptions.dispatcher import Dispatcher
from subscriptions.events import EventLog
from subscriptions.hub import Hub
from telemetry import gcpause, logs
from telemetry.database import instrument_engine


@dataclass
class Services:
    runtime: Runtime
    engine: AsyncEngine
    broadcast: Broadcast
    broker: AsyncBroker
    redis_backend: ResilientRedisBackend | None
    webhooks: Webhooks
    # Every domain's sweep by name, each run by the loop of the same name.
    runners: dict[str, Runner]
    loops: tuple[Periodic, ...]
    probes: Probes


def build_services(settings: Settings) -> Services:
    engine = db.create_engine(settings)
    instrument_engine(engine.sync_engine)
    sessionmaker = db.create_sessionmaker(engine, audit_key=settings.audit_chain_key)
    read_sessionmaker = db.create_read_sessionmaker(engine, audit_key=settings.audit_chain_key)
    redis_backend = None
    if settings.redis_url:
        redis_backend = ResilientRedisBackend(settings.redis_url)
        broadcast = Broadcast(backend=redis_backend)
    else:
        broadcast = Broadcast("memory://")
    channel = f"{settings.redis_prefix}:events"
    event_log = EventLog(read_sessionmaker)
    hub = Hub(broadcast, channel, event_log, queue_size=settings.ws_queue_size)
    if redis_backend is not None:
        redis_backend.on_reconnect = hub.request_resync
    broker = create_broker(settings)
    broker.state.read_sessionmaker = read_sessionmaker
    webhooks = Webhooks.from_settings(settings)
    broker.state.webhooks = webhooks
    broker.state.mail = create_mail_sender(settings)
    dispatcher = Dispatcher(
        sessionmaker,
        read_sessionmaker,
        broadcast,
        channel,
        JobQueue(broker),
        interval=settings.dispatch_interval,
    )
    transactions = Transactions(sessionmaker, on_commit=dispatcher.kick)
    # Jobs and sweeps write through it too: their events go out as soon as they commit.
    broker.state.transactions = transactions
    probes = Probes(settings, engine, read_sessionmaker, broker, redis_backend, hub)
    billing = billing_setup(settings)
    broker.state.billing = billing
    broker.state.retention = retention_policy(settings)
    # Half the general pool: a lean read holds its connection for one statement.
    reader = Reader(
        engine,
        connect_options(engine),
        max(2, settings.db_pool_size // 2),
        acquire_timeout=settings.db_pool_timeout,
    )
    runtime = Runtime(
        settings=settings,
        transactions=transactions,
        read_sessionmaker=read_sessionmaker,
        hasher=make_hasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_cost
        ),
        dispatcher=dispatcher,
        hub=hub,
        event_log=event_log,
        probes=probes,
        billing=billing,
        reader=reader,
        live=LiveReads(reader) if settings.live_shared_delivery else None,
        throttle=Throttle(
            {**DEFAULT_RATE_LIMITS, **settings.rate_limits},
            redis_url=settings.redis_url,
            prefix=settings.redis_prefix,
            in_flight={
                login_limits.IN_FLIGHT_IP: settings.login_in_flight_per_address,
                login_limits.IN_FLIGHT_ACCOUNT: settings.login_in_flight_per_account,
            },
        ),
    )
    jobs_services = BrokerServices(broker)
    runners = {sweep.name: sweep.build(jobs_services) for sweep in _sweeps()}
    loops = tuple(
        Periodic(sweep.name, runners[sweep.name].run_once, interval=interval(sweep, settings))
        for sweep in _sweeps()
    )
    return Services(
        runtime,
        engine,
        broadcast,
        broker,
        redis_backend,
        webhooks,
        runners,
        loops,
        probes,
    )


def _sweeps() -> list[Sweep]:
    return [sweep for domain in DOMAINS for sweep in domain.sweeps]


def interval(sweep: Sweep, settings: Settings) -> float:
    """A sweep's interval in seconds, read from the settings when it names one."""
    every = sweep.every
    seconds = float(getattr(settings, every)) if isinstance(every, str) else every
    return seconds * sweep.scale


def retention_policy(settings: Settings) -> RetentionPolicy:
    """How long each pruned table keeps its rows (a setting of 0 days: for ever)."""
    days = {
        rules.EVENTS: settings.retention_events_days,
        # The fan-out markers are read for hours at most: they go with their events.
        rules.WEBHOOK_FANOUTS: settings.retention_events_days,
        rules.WEBHOOK_DELIVERIES: settings.retention_webhook_deliveries_days,
        rules.OUTBOUND_EMAILS: settings.retention_emails_days,
        rules.FAILED_LOGINS: settings.retention_failed_logins_days,
        rules.STRIPE_REQUESTS: settings.retention_stripe_requests_days,
    }
    return RetentionPolicy(
        periods={name: timedelta(days=count) for name, count in days.items() if count > 0}
    )


def billing_setup(settings: Settings) -> BillingSetup:
    gateway = StripeGateway.from_settings(settings)
    return BillingSetup(
        gateway=gateway,
        retry_days=settings.billing_retry_days,
        grace=timedelta(days=settings.billing_grace_days),
        freeze_on_dispute=settings.billing_freeze_on_dispute,
        recreate_lost_customers=not settings.is_production,
    )


async def _compact() -> int:
    gcpause.compact()
    return 0


@contextlib.asynccontextmanager
async def running(services: Services) -> AsyncIterator[Services]:
    """Start everything the server needs, in order, and stop it in reverse."""
    runtime = services.runtime
    await db.check_migrated(services.engine)
    async with runtime.sessionmaker() as session, session.begin():
        await catalogue.ensure_catalogue(session)
    await services.broker.startup()
    worker: Worker | None = None
    if runtime.settings.embedded_worker and runtime.settings.redis_url:
        worker = Worker(services.broker)
        worker.start()
    await services.broadcast.connect()
    await runtime.hub.start()
    await runtime.dispatcher.start()
    for loop in services.loops:
        await loop.start()
    compacting = None
    if gcpause.freezing():  # `chirp serve` froze long-lived objects: collect all now and then
        compacting = Periodic("gc-compact", _compact, interval=runtime.settings.gc_compact_seconds)
        await compacting.start()
    try:
        yield services
    finally:
        if compacting is not None:
            await compacting.stop()
        for loop in services.loops:
            await loop.stop()
        await runtime.dispatcher.stop()
        if isinstance(services.broker, InMemoryBroker):
            await services.broker.wait_all()
        await runtime.hub.stop()
        await services.broadcast.disconnect()
        if worker is not None:
            await worker.stop()
        await services.broker.shutdown()
        await services.webhooks.sender.aclose()
        if runtime.live is not None:
            await runtime.live.aclose()
        if runtime.reader is not None:
            await runtime.reader.aclose()
        if runtime.billing is not None:
            await runtime.billing.gateway.aclose()
        await services.probes.close()
        await runtime.throttle.aclose()
        await services.engine.dispose()


def _stamp_request_ids(session: Session, _context: Any, _instances: Any) -> None:
    """Outbox events remember the request that caused them, for their jobs' log lines."""
    request_id = logs.bound("request_id")
    if request_id is None:
        return
    for obj in session.new:
        if isinstance(obj, Event) and obj.request_id is None:
            obj.request_id = request_id


# On the Session class (async sessions run a sync Session inside), once per process.
if not event.contains(Session, "before_flush", _stamp_request_ids):
    event.listen(Session, "before_flush", _stamp_request_ids)
