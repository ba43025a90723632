"""Delivering events to a real receiver (uvicorn on 127.0.0.1): signed, once, retried with
growing delays, durable across a crashed worker, and endpoints that keep failing turned off
by the system (audited). Retry delays are shortened so each test takes a second or two."""

from __future__ import annotations

import asyncio
import functools
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from taskiq import Context, InMemoryBroker, TaskiqDepends

from app import db
from app.jobs import enqueue
from app.runtime import Services
from app.settings import Settings
from models.base import utcnow
from models.events import actions as events
from models.events.tables import Event
from models.integrations import catalogue, deliveries
from models.integrations.jobs import ATTEMPT_WEBHOOK, enqueue_attempts
from models.integrations.sender import WebhookSender
from models.integrations.sweep import DeliverySweep
from models.integrations.tables import WebhookDelivery, WebhookFanout
from models.transactions import Transactions
from resolvers.paging import parse_global_id
from telemetry import logs, metrics
from telemetry.jobs import REQUEST_ID_LABEL
from tests.conftest import eventually, make_settings
from tests.support.accounts import sign_up
from tests.support.backends import Database
from tests.support.graphql import GraphQLClient
from tests.support.receiver import Receiver
from tests.support.servers import free_port
from tests.support.staff import Staff, make_staff
from tests.support.webhooks import DELIVERIES, act, audit_entries, create_endpoint

CREATE_DELIVERIES = "chirp.create_webhook_deliveries"


@pytest.fixture
def settings(database: Database) -> Settings:
    return make_settings(
        database,
        webhook_retry_base=0.3,
        webhook_retry_max=5.0,
        webhook_max_attempts=8,
        webhook_disable_after=4,
        webhook_failing_period=0.0,
        webhook_sweep_interval=0.05,
        webhook_timeout=2.0,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver().running() as running:
        yield running


async def _subscribed(
    gql: GraphQLClient, services: Services, receiver: Receiver, *types: str
) -> tuple[Staff, str]:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    created = await create_endpoint(gql, admin, receiver.url, list(types) or None)
    receiver.secrets.append(created["secret"])
    return admin, created["endpoint"]["id"]


async def _deliveries(
    gql: GraphQLClient, admin: Staff, endpoint_id: str
) -> list[dict[str, object]]:
    data = await gql.execute(DELIVERIES, {"id": endpoint_id, "first": 10}, token=admin.token)
    return [edge["node"] for edge in data["webhookEndpoint"]["deliveries"]["edges"]]


async def _settled(gql: GraphQLClient, admin: Staff, endpoint_id: str) -> list[dict[str, Any]]:
    """The deliveries once none is in flight (the receiver records a request before the
    attempt that made it is logged)."""
    found: list[dict[str, Any]] = []

    async def settled() -> bool:
        found[:] = await _deliveries(gql, admin, endpoint_id)
        return all(d["status"] == "DELIVERED" for d in found)

    await eventually(settled)
    return found


async def _quiet(receiver: Receiver, seconds: float = 0.6) -> int:
    """How many requests arrived, after waiting to see that no more do."""
    count = len(receiver.received)
    await asyncio.sleep(seconds)
    assert len(receiver.received) == count, "a delivery arrived that should not have"
    return count


async def test_a_sign_up_is_delivered_once_signed_and_without_the_email(
    gql: GraphQLClient, services: Services, receiver: Receiver
) -> None:
    admin, endpoint_id = await _subscribed(gql, services, receiver)

    user = await sign_up(gql, "newcomer")
    await eventually(lambda: _some(receiver, 1))
    await _quiet(receiver)

    [got] = receiver.received
    assert got.valid_secrets == receiver.secrets
    assert got.headers["chirp-event-type"] == "account.created"
    assert got.headers["chirp-event-id"].startswith("evt_")
    assert got.headers["chirp-delivery-id"].startswith("dlv_")
    assert got.headers["content-type"] == "application/json"
    body = got.json
    assert body["id"] == got.headers["chirp-event-id"] and body["type"] == "account.created"
    assert body["data"] == {"account_id": user.id, "handle": "newcomer"}
    assert b"example.com" not in got.body  # no email
    [delivery] = await _settled(gql, admin, endpoint_id)
    assert delivery["status"] == "DELIVERED" and delivery["attemptCount"] == 1
    assert delivery["eventId"] == body["id"] and delivery["eventType"] == "ACCOUNT_CREATED"
    assert delivery["nextAttemptAt"] is None and delivery["deliveredAt"] is not None
    [attempt] = delivery["attempts"]
    assert attempt["statusCode"] == 200 and attempt["succeeded"] is True
    assert attempt["responseExcerpt"] == "ok" and attempt["error"] == ""


async def test_a_failing_receiver_is_retried_with_growing_delays_until_it_succeeds(
    gql: GraphQLClient, services: Services, receiver: Receiver
) -> None:
    admin, endpoint_id = await _subscribed(gql, services, receiver)
    receiver.fail_next(1, 500)
    receiver.fail_next(1, 302)  # a redirect is a failure, never followed
    receiver.fail_next(1, 503)

    await sign_up(gql, "newcomer")
    await eventually(lambda: _some(receiver, 4))
    await _quiet(receiver)

    got = receiver.received
    assert [r.status for r in got] == [500, 302, 503, 200]
    assert len({r.headers["chirp-event-id"] for r in got}) == 1
    assert len({r.body for r in got}) == 1  # the same bytes each time
    assert [r.headers["chirp-delivery-attempt"] for r in got] == ["1", "2", "3", "4"]
    assert all(r.valid_secrets for r in got)
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(got)]
    # Each wait is between half and all of 0.3 s, 0.6 s, 1.2 s (equal jitter).
    assert 0.14 <= gaps[0] < gaps[2]
    assert gaps[1] >= 0.29 and gaps[2] >= 0.59
    [delivery] = await _settled(gql, admin, endpoint_id)
    assert delivery["status"] == "DELIVERED" and delivery["attemptCount"] == 4
    attempts = delivery["attempts"]
    assert [a["statusCode"] for a in attempts] == [200, 503, 302, 500]
    assert "receiver says no" in attempts[1]["responseExcerpt"]
    assert len(attempts[1]["responseExcerpt"]) == 500
    endpoint = await gql.execute(DELIVERIES, {"id": endpoint_id, "first": 1}, token=admin.token)
    assert endpoint["webhookEndpoint"]["consecutiveFailures"] == 0


async def test_an_endpoint_that_keeps_failing_is_turned_off_and_the_system_audits_it(
    gql: GraphQLClient, services: Services, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    admin, endpoint_id = await _subscribed(gql, services, receiver)
    receiver.default_status = 500

    await sign_up(gql, "newcomer")
    await eventually(lambda: _some(receiver, 4), timeout=15)
    await _quiet(receiver, 1.0)

    assert len(receiver.received) == 4  # WEBHOOK_DISABLE_AFTER; then nothing more
    [entry] = await audit_entries(services, "webhook.auto_disable")
    assert entry.actor_handle == "system:webhooks" and entry.actor_id is None
    assert entry.before is not None and entry.before["enabled"] is True
    assert entry.after is not None and entry.after["enabled"] is False
    assert entry.after["consecutive_failures"] == 4 and entry.after["last_error"] == "HTTP 500"
    [warning] = [r for r in caplog.records if r.name == "chirp.webhooks"]
    assert warning.levelname == "WARNING" and "turned off automatically" in warning.getMessage()
    assert receiver.url not in warning.getMessage()
    data = await gql.execute(DELIVERIES, {"id": endpoint_id, "first": 5}, token=admin.token)
    endpoint = data["webhookEndpoint"]
    assert endpoint["enabled"] is False and endpoint["consecutiveFailures"] == 4
    [delivery] = [e["node"] for e in endpoint["deliveries"]["edges"]]
    assert delivery["status"] == "PENDING"  # it waits for the endpoint to come back

    receiver.default_status = 200
    await act(gql, admin, "enableWebhookEndpoint", endpoint_id, "receiver fixed")
    await eventually(lambda: _some(receiver, 5))
    [delivery] = await _settled(gql, admin, endpoint_id)
    assert delivery["status"] == "DELIVERED" and delivery["attemptCount"] == 5


async def test_a_delivery_left_by_a_crashed_worker_is_made_when_its_claim_runs_out(
    gql: GraphQLClient, services: Services, receiver: Receiver
) -> None:
    admin, endpoint_id = await _subscribed(gql, services, receiver, "ACCOUNT_SUSPENDED")
    user = await sign_up(gql, "newcomer")
    async with services.runtime.sessionmaker() as session, session.begin():
        event = events.record_event(
            session, type=events.ACCOUNT_SUSPENDED, payload={"account_id": _key(user.id)}
        )
        await session.flush()
        # As a worker leaves it when it dies after taking attempt 1: claimed, lease run out.
        session.add(
            WebhookDelivery(
                endpoint_id=_key(endpoint_id),
                event_id=event.id,
                event_type=events.ACCOUNT_SUSPENDED,
                attempts=1,
                next_attempt_at=utcnow() - timedelta(seconds=1),
            )
        )

    await eventually(lambda: _some(receiver, 1))
    await _quiet(receiver)

    [got] = receiver.received
    assert got.headers["chirp-delivery-attempt"] == "2"
    assert got.json["data"] == {"account_id": user.id}
    [delivery] = await _settled(gql, admin, endpoint_id)
    assert delivery["status"] == "DELIVERED" and delivery["attemptCount"] == 2


async def test_after_a_rotation_both_secrets_sign_for_a_while(
    gql: GraphQLClient, services: Services, receiver: Receiver
) -> None:
    admin, endpoint_id = await _subscribed(gql, services, receiver)
    rotated = await act(gql, admin, "rotateWebhookSecret", endpoint_id, "yearly rotation")
    receiver.secrets.append(rotated["secret"])

    await sign_up(gql, "newcomer")
    await eventually(lambda: _some(receiver, 1))

    [got] = receiver.received
    assert got.headers["chirp-signature"].count("v1=") == 2
    assert got.valid_secrets == receiver.secrets  # the old one and the new one


async def test_unsubscribed_and_disabled_endpoints_get_nothing(
    gql: GraphQLClient, services: Services, receiver: Receiver
) -> None:
    admin, other_id = await _subscribed(gql, services, receiver, "POST_REPORTED")
    created = await create_endpoint(gql, admin, receiver.url)
    await act(gql, admin, "disableWebhookEndpoint", created["endpoint"]["id"], "not yet")

    user = await sign_up(gql, "newcomer")
    await _all_processed(services)
    await _quiet(receiver)

    assert receiver.received == []
    assert await _deliveries(gql, admin, other_id) == []
    assert await _deliveries(gql, admin, created["endpoint"]["id"]) == []
    async with services.runtime.read_sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    async with services.runtime.read_sessionmaker() as session:
        event = await session.scalar(select(Event).order_by(Event.id.desc()).limit(1))
    assert event is not None and event.payload == {
        "account_id": _key(user.id),
        "handle": "newcomer",
    }


def _key(global_id: str) -> int:
    return parse_global_id(global_id, expect=None, field="id")[1]


async def _all_fanned_out(services: Services) -> bool:
    """Every event so far has its seq from the dispatcher, and every deliverable one its
    fan-out marker."""
    async with services.runtime.read_sessionmaker() as session:
        unsequenced = await session.scalar(select(Event.id).where(Event.seq.is_(None)).limit(1))
        if unsequenced is not None:
            return False
        missing = await session.scalar(
            select(Event.id)
            .outerjoin(WebhookFanout, WebhookFanout.event_seq == Event.seq)
            .where(
                Event.type.in_(list(catalogue.DELIVERABLE)),
                WebhookFanout.event_seq.is_(None),
            )
            .limit(1)
        )
    return missing is None


async def _some(receiver: Receiver, count: int) -> bool:
    return len(receiver.received) >= count


async def _all_processed(services: Services) -> None:
    async def processed() -> bool:
        async with services.runtime.read_sessionmaker() as session:
            found = await session.scalar(select(Event.id).where(Event.processed_at.is_(None)))
            return found is None

    await eventually(processed)


async def test_the_sender_connects_only_to_checked_addresses(receiver: Receiver) -> None:
    development = WebhookSender(timeout=2.0, production=False)
    production = WebhookSender(timeout=2.0, production=True)
    try:
        by_name = await development.post(f"http://localhost:{receiver.port}/hooks", b"{}", {})
        refused = await production.post(f"https://localhost:{receiver.port}/hooks", b"{}", {})
    finally:
        await development.aclose()
        await production.aclose()

    assert by_name.ok and by_name.excerpt == "ok" and by_name.error == ""
    assert refused.status_code is None and "non-public address" in refused.error
    [got] = receiver.received
    assert got.headers["host"] == f"localhost:{receiver.port}"
    assert got.headers["user-agent"] == "Chirp-Webhooks/1"


async def test_deliveries_whose_creation_job_failed_for_good_are_created_by_the_sweep(
    gql: GraphQLClient, services: Services, receiver: Receiver, settings: Settings
) -> None:
    """The database is unreachable for the job that creates an event's deliveries: it fails
    (the job ledger would enqueue it again only after its lease), and the event is already
    marked processed. The webhook sweep notices the event has no fan-out and creates its
    deliveries: the receiver gets it, once."""
    admin, endpoint_id = await _subscribed(gql, services, receiver)
    sweep = services.runners["webhook-sweep"]
    assert isinstance(sweep, DeliverySweep)
    sweep.fanout_grace = timedelta(hours=1)  # not while the database is "down"
    nowhere = (
        f"sqlite+aiosqlite:////nonexistent-{uuid.uuid4().hex}/chirp.db"
        if settings.is_sqlite
        else f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/chirp"
    )
    broken = db.create_engine(Settings(env="test", database_url=nowhere))
    state = services.broker.state
    working = state.transactions
    failed = metrics.JOBS.labels(CREATE_DELIVERIES, metrics.FAILED)
    failures = failed._value.get()
    state.transactions = Transactions(db.create_sessionmaker(broken))
    try:
        await sign_up(gql, "newcomer")
        await _all_processed(services)
        await eventually(lambda: _counted(failed, failures + 1))
        await asyncio.sleep(0.3)
    finally:
        state.transactions = working
        await broken.dispose()
    async with services.runtime.read_sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    assert receiver.received == []

    sweep.fanout_grace = timedelta(0)
    await eventually(lambda: _some(receiver, 1))
    await _quiet(receiver)
    for _ in range(3):
        await sweep.run_once()
    await _quiet(receiver, 0.3)

    [got] = receiver.received
    assert got.headers["chirp-event-type"] == "account.created" and got.valid_secrets
    [delivery] = await _settled(gql, admin, endpoint_id)
    assert delivery["attemptCount"] == 1
    async with services.runtime.sessionmaker() as session, session.begin():
        event = await session.scalar(select(Event).order_by(Event.id.desc()).limit(1))
        assert event is not None and event.seq is not None
        # The job, run once more (a late duplicate), finds the fan-out done.
        again = await deliveries.create_deliveries(
            session, event_seq=event.seq, lease=timedelta(minutes=5)
        )
        assert again == []
        assert await session.get(WebhookFanout, event.seq) is not None


async def test_the_sweep_leaves_alone_fan_outs_on_their_way_and_events_too_old(
    gql: GraphQLClient, services: Services, receiver: Receiver
) -> None:
    await _subscribed(gql, services, receiver, "ACCOUNT_SUSPENDED")
    for loop in services.loops:
        await loop.stop()
    # The sweep looks along the seq order and stops at the first event that may still be on
    # its way: let the arrangement's own events (the sign-up, the role grant) take their seq
    # and finish their fan-out first, so the seqs written below are free.
    await eventually(lambda: _all_fanned_out(services))
    sweep = services.runners["webhook-sweep"]
    assert isinstance(sweep, DeliverySweep)
    sweep.fanout_grace = grace = timedelta(seconds=20)
    async with services.runtime.sessionmaker() as session, session.begin():
        newest = await deliveries.newest_seq(session)
        now = utcnow()
        old, lost, waiting = (
            Event(type=events.ACCOUNT_SUSPENDED, payload={"account_id": n}, seq=newest + n,
                  created_at=created, published_at=now, processed_at=processed)
            for n, created, processed in (
                (1, now - timedelta(hours=7), now - timedelta(hours=7)),  # beyond the lookback
                (2, now, now - timedelta(minutes=1)),  # handed to a job that was lost
                (3, now, None),  # not yet handed to its job (the dispatcher will)
            )
        )  # fmt: skip
        session.add_all([old, lost, waiting])
    async with services.runtime.read_sessionmaker() as session:
        scan = await deliveries.lost_fanouts(
            session, after=newest, grace=grace, oldest=now - timedelta(hours=6)
        )
    assert scan.lost == [newest + 2] and scan.settled_through >= newest + 2

    await sweep.recover_fanouts()
    await eventually(lambda: _some(receiver, 2))
    await _quiet(receiver)
    await sweep.recover_fanouts()
    await _quiet(receiver, 0.3)
    got = sorted(_key(r.json["data"]["account_id"]) for r in receiver.received)
    assert got == [2, 3]  # each once; the one beyond the lookback never


async def test_a_queued_attempt_is_not_claimed_again_while_it_waits_for_a_worker(
    gql: GraphQLClient, services: Services, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim made when an attempt job is enqueued lasts while the job may wait in a busy
    queue; the job takes the short attempt lease when it starts, and a duplicate of it (from
    a claim that did run out) does nothing."""
    _, endpoint_id = await _subscribed(gql, services, receiver, "ACCOUNT_SUSPENDED")
    for loop in services.loops:
        await loop.stop()
    queued: list[tuple[int, int]] = []
    broker = InMemoryBroker()

    async def record(delivery_id: int, attempt: int) -> None:
        queued.append((delivery_id, attempt))

    broker.register_task(record, task_name=ATTEMPT_WEBHOOK)
    policy = services.webhooks.policy
    sweep = DeliverySweep(
        services.runtime.sessionmaker,
        services.runtime.read_sessionmaker,
        functools.partial(enqueue, broker),
        policy,
    )
    async with services.runtime.sessionmaker() as session, session.begin():
        event = events.record_event(
            session, type=events.ACCOUNT_SUSPENDED, payload={"account_id": 1}
        )
        await session.flush()
        delivery = WebhookDelivery(
            endpoint_id=_key(endpoint_id),
            event_id=event.id,
            event_type=events.ACCOUNT_SUSPENDED,
            next_attempt_at=utcnow() - timedelta(seconds=1),
        )
        session.add(delivery)
    start = utcnow()

    async def sweep_at(later: timedelta) -> None:
        monkeypatch.setattr(deliveries, "utcnow", lambda: start + later)
        await sweep.run_once()
        await broker.wait_all()

    await sweep_at(timedelta(0))
    assert queued == [(delivery.id, 1)]
    # The job waits in the queue well past an attempt's lease: it is not enqueued again.
    await sweep_at(policy.lease + timedelta(seconds=5))
    assert queued == [(delivery.id, 1)]
    await sweep_at(policy.claim_lease - timedelta(seconds=5))
    assert queued == [(delivery.id, 1)]
    # A job lost on the way is replaced once the claim runs out.
    await sweep_at(policy.claim_lease + timedelta(seconds=1))
    assert queued == [(delivery.id, 1), (delivery.id, 1)]
    monkeypatch.undo()

    async with services.runtime.sessionmaker() as session, session.begin():
        taken = await deliveries.start_attempt(
            session, delivery_id=delivery.id, attempt=1, lease=policy.lease
        )
        duplicate = await deliveries.start_attempt(
            session, delivery_id=delivery.id, attempt=1, lease=policy.lease
        )
        row = await session.get(WebhookDelivery, delivery.id)
    assert taken is not None and duplicate is None
    assert row is not None and row.attempts == 1 and row.next_attempt_at is not None
    assert row.next_attempt_at <= utcnow() + policy.lease


async def _counted(counter: Any, value: float) -> bool:
    return bool(counter._value.get() >= value)


async def test_attempt_jobs_are_enqueued_counted_and_labelled_like_every_job() -> None:
    labels: list[dict[str, Any]] = []
    broker = InMemoryBroker()

    async def record(delivery_id: int, attempt: int, context: Context = TaskiqDepends()) -> None:
        labels.append(dict(context.message.labels))

    broker.register_task(record, task_name=ATTEMPT_WEBHOOK)
    enqueued = metrics.JOBS_ENQUEUED.labels(ATTEMPT_WEBHOOK)
    before = enqueued._value.get()
    tokens = logs.bind(request_id="req-42")  # as inside the job that creates deliveries
    try:
        await enqueue_attempts(functools.partial(enqueue, broker), [(7, 1), (8, 3)])
    finally:
        logs.unbind(tokens)
    await enqueue_attempts(
        functools.partial(enqueue, broker), [(9, 2)]
    )  # from a sweep: no request behind it
    await broker.wait_all()

    assert enqueued._value.get() == before + 3
    assert sorted(label[REQUEST_ID_LABEL] for label in labels) == ["-", "req-42", "req-42"]
