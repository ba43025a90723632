"""Rows of the tables retention prunes, written directly with the ages a test needs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import FailedLogin
from models.base import utcnow
from models.billing.tables import StripeRequest
from models.events.tables import Event
from models.integrations.tables import (
    DELIVERED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from models.mail.tables import OutboundEmail


def days_ago(days: float) -> datetime:
    return utcnow() - timedelta(days=days)


async def event(
    session: AsyncSession,
    *,
    age: float,
    seq: int | None,
    published: bool = True,
    processed: bool = True,
) -> Event:
    """An outbox event `age` days old, numbered `seq` (None: not yet numbered)."""
    at = days_ago(age)
    row = Event(
        type="post.created",
        payload={"post_id": 1},
        seq=seq,
        created_at=at,
        published_at=at if published and seq is not None else None,
        processed_at=at if processed and seq is not None else None,
    )
    session.add(row)
    await session.flush()
    return row


async def endpoint(session: AsyncSession) -> WebhookEndpoint:
    row = WebhookEndpoint(url="https://receiver.example/hook", event_types=[], secret="s" * 32)
    session.add(row)
    await session.flush()
    return row


async def delivery(
    session: AsyncSession,
    *,
    endpoint_id: int,
    event_id: int,
    age: float,
    status: str,
    attempts: int,
) -> WebhookDelivery:
    """A delivery `age` days old in `status`, with `attempts` attempts."""
    at = days_ago(age)
    row = WebhookDelivery(
        endpoint_id=endpoint_id,
        event_id=event_id,
        event_type="post.created",
        status=status,
        attempts=attempts,
        next_attempt_at=at if status == PENDING else None,
        delivered_at=at if status == DELIVERED else None,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    await session.flush()
    for number in range(1, attempts + 1):
        session.add(WebhookAttempt(delivery_id=row.id, number=number, created_at=at))
    await session.flush()
    return row


async def email(session: AsyncSession, *, key: str, age: float, state: str) -> OutboundEmail:
    """An email `age` days old: "sent", "given_up" or "pending" (a send or retry is due)."""
    at = days_ago(age)
    row = OutboundEmail(
        key=key,
        to_address="someone@example.com",
        subject="Hello",
        text_body="Hello",
        sent_at=at if state == "sent" else None,
        next_attempt_at=at if state == "pending" else None,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    await session.flush()
    return row


async def failed_login(session: AsyncSession, *, age: float) -> FailedLogin:
    row = FailedLogin(failure="WRONG_PASSWORD", ip="192.0.2.1", created_at=days_ago(age))
    session.add(row)
    await session.flush()
    return row


async def stripe_request(session: AsyncSession, *, key: str, age: float) -> StripeRequest:
    row = StripeRequest(key=key, operation="customer.create", created_at=days_ago(age))
    session.add(row)
    await session.flush()
    return row
