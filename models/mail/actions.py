"""Queueing an email in the caller's transaction, and sending it after commit.

`queue_email` writes one row per logical effect (its key) and an `email.queued` outbox
event; the event's job calls `send_queued_email`, which claims the row for a lease, sends
with no transaction open, then marks it sent or schedules a retry in the row. The mail sweep
sends what is due (`due_email_ids`): retries, emails whose job was lost, sends whose worker
died. Such a worker may have handed the message over before it died, so a receiver can get
it twice; the Message-ID, derived from the key, lets it drop the copy."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import conflict_insert, utcnow
from models.events import actions as events
from models.mail.tables import OutboundEmail
from models.transactions import Transactions, ensure_outside_transaction

log = logging.getLogger("chirp.mail")

EMAIL_QUEUED = "email.queued"
KEY_MAX = 200
ADDRESS_MAX = 254
SUBJECT_MAX = 300
ERROR_MAX = 300
# The job sends at once; the sweep steps in only when the job has not done so by then.
FIRST_ATTEMPT_GRACE = timedelta(minutes=1)
# A send in flight holds its row this long; the SMTP sender gives up well before.
SEND_LEASE = timedelta(minutes=5)
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class Mail:
    """A queued email as a sender needs it."""

    key: str
    to: str
    subject: str
    text: str
    html: str | None
    created_at: datetime


class MailRefused(Exception):
    """The relay refused the message for good (a 5xx answer): retrying cannot help."""


class MailSender(Protocol):
    async def send(self, mail: Mail) -> None:
        """Hand the message over, or raise (`MailRefused` when retrying cannot help)."""


async def queue_email(
    session: AsyncSession, *, key: str, to: str, subject: str, text: str, html: str | None = None
) -> bool:
    """Queue the email of the logical effect `key`; False if that key was queued already."""
    _check(key=key, to=to, subject=subject)
    now = utcnow()
    insert = conflict_insert(session)
    # A concurrent transaction queuing the same key waits on the unique index, then inserts
    # nothing: exactly one row and one event per key, whoever commits first.
    email_id = await session.scalar(
        insert(OutboundEmail)
        .values(
            key=key,
            to_address=to,
            subject=subject,
            text_body=text,
            html_body=html,
            attempts=0,
            next_attempt_at=now + FIRST_ATTEMPT_GRACE,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboundEmail.id)
    )
    if email_id is None:
        return False
    events.record_event(session, type=EMAIL_QUEUED, payload={"email_id": email_id})
    return True


async def send_queued_email(
    transactions: Transactions, sender: MailSender, *, email_id: int
) -> bool:
    """Send one queued email; False when it is sent, being sent, given up or not yet due.
    A failed send is recorded and raised (a refusal for good is recorded and not raised)."""
    async with transactions.begin() as session:
        claimed = await _claim(session, email_id=email_id)
    if claimed is None:
        return False
    mail, attempt = claimed
    ensure_outside_transaction("sending an email")
    try:
        await sender.send(mail)
    except MailRefused as exc:
        await _record_failure(transactions, email_id=email_id, attempt=attempt, error=exc)
        log.warning("email %d refused for good: %s", email_id, exc)
        return False
    except Exception as exc:
        await _record_failure(transactions, email_id=email_id, attempt=attempt, error=exc)
        raise
    async with transactions.begin() as session:
        email = await session.get(OutboundEmail, email_id, with_for_update={"key_share": True})
        if email is not None and email.sent_at is None:
            email.sent_at, email.next_attempt_at = utcnow(), None
    return True


async def due_email_ids(session: AsyncSession, *, now: datetime, limit: int) -> list[int]:
    """Unsent emails whose next attempt is due at `now`, the longest waiting first."""
    rows = await session.scalars(
        select(OutboundEmail.id)
        .where(OutboundEmail.sent_at.is_(None), OutboundEmail.next_attempt_at <= now)
        .order_by(OutboundEmail.next_attempt_at)
        .limit(limit)
    )
    return list(rows)


def retry_delay(attempt: int) -> timedelta:
    """The wait after failed attempt number `attempt` (from 1): doubling, capped."""
    return min(RETRY_BASE * (1 << min(attempt - 1, 20)), RETRY_MAX)


async def _claim(session: AsyncSession, *, email_id: int) -> tuple[Mail, int] | None:
    # Claims of one row queue on its lock (SQLite: on the writer's lock), so the second
    # sees the first one's lease.
    email = await session.get(OutboundEmail, email_id, with_for_update={"key_share": True})
    if email is None or email.sent_at is not None or email.next_attempt_at is None:
        return None
    now = utcnow()
    if email.attempts > 0 and email.next_attempt_at > now:
        return None
    email.attempts += 1
    email.next_attempt_at = now + SEND_LEASE
    mail = Mail(
        key=email.key,
        to=email.to_address,
        subject=email.subject,
        text=email.text_body,
        html=email.html_body,
        created_at=email.created_at,
    )
    return mail, email.attempts


async def _record_failure(
    transactions: Transactions,
    *,
    email_id: int,
    attempt: int,
    error: Exception,
) -> None:
    async with transactions.begin() as session:
        email = await session.get(OutboundEmail, email_id, with_for_update={"key_share": True})
        # A newer attempt took over after this one's lease ran out: its record wins.
        if email is None or email.sent_at is not None or email.attempts != attempt:
            return
        email.last_error = f"{type(error).__name__}: {error}"[:ERROR_MAX]
        if isinstance(error, MailRefused) or attempt >= MAX_ATTEMPTS:
            email.next_attempt_at = None
        else:
            email.next_attempt_at = utcnow() + retry_delay(attempt)


def _check(*, key: str, to: str, subject: str) -> None:
    # Callers are Chirp's own code: a bad value is a bug, refused before it is stored.
    if not 0 < len(key) <= KEY_MAX:
        raise ValueError(f"an email key has 1 to {KEY_MAX} characters")
    if len(to) > ADDRESS_MAX or "@" not in to or parseaddr(to) != ("", to) or _breaks(to):
        raise ValueError("`to` must be one bare email address")
    if len(subject) > SUBJECT_MAX or _breaks(subject):
        raise ValueError(f"a subject is one line of at most {SUBJECT_MAX} characters")


def _breaks(value: str) -> bool:
    return "\r" in value or "\n" in value
