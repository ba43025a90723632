"""Delivering events to a real receiver (uvicorn on 127.0.0.1): signed, once, retried with
growing delays, durable across a crashed worker, and endpoints that keep failing turned off
by the system (audited). Retry delays are shortened so each test takes a second or two."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.runtime import Services
from app.settings import Settings
from models.base import utcnow
from models.events import actions as events
from models.events.tables import Event
from models.integrations.sender import WebhookSender
from models.integrations.tables import WebhookDelivery
from resolvers.paging import parse_global_id
from tests.conftest import eventually, make_settings
from tests.support.accounts import sign_up
from tests.support.backends import Database
from tests.support.graphql import GraphQLClient
from tests.support.receiver import Receiver
from tests.support.staff import Staff, make_staff
from tests.support.webhooks import DELIVERIES, act, audit_entries, create_endpoint


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
    gql: GraphQLClient, services: Services, receiver: Receiver
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
    async with services.runtime.read_sessionmaker() as session:
        event = await session.scalar(select(Event).order_by(Event.id.desc()).limit(1))
    assert event is not None and event.payload == {
        "account_id": _key(user.id),
        "handle": "newcomer",
    }


def _key(global_id: str) -> int:
    return parse_global_id(global_id, expect=None, field="id")[1]


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
