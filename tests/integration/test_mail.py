"""Transactional email: queued in the caller's transaction, sent once after commit by the
running app's worker to a real SMTP server (aiosmtpd), and retried from the database when
the relay was away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
import structlog
from sqlalchemy import func, select, update

from app.mail import LogMailSender, message_id
from app.main import create_app
from app.runtime import Services
from app.settings import Settings
from models.base import utcnow
from models.events.tables import Event
from models.mail import actions as mail
from models.mail.sweep import MailSweep
from models.mail.tables import OutboundEmail
from tests.conftest import eventually, make_settings
from tests.support.backends import Database
from tests.support.smtp import SmtpServer, smtp_server_fixture  # noqa: F401

TO = "ada@example.com"
SUBJECT = "Your payment failed"
TEXT = "Hello Ada,\nyour card was declined.\nWe will try again in 3 days.\n"
HTML = "<p>Hello Ada,</p><p>your card was declined.</p>"


@pytest.fixture
def settings(database: Database, smtp_server: SmtpServer) -> Settings:
    return make_settings(database, smtp_host="127.0.0.1", smtp_port=smtp_server.port)


async def _queue(services: Services, key: str, *, to: str = TO, subject: str = SUBJECT) -> bool:
    runtime = services.runtime
    async with runtime.sessionmaker() as session, session.begin():
        queued = await mail.queue_email(session, key=key, to=to, subject=subject, text=TEXT)
    runtime.dispatcher.kick()
    return queued


async def _email(services: Services, key: str) -> OutboundEmail:
    async with services.runtime.read_sessionmaker() as session:
        email = await session.scalar(select(OutboundEmail).where(OutboundEmail.key == key))
    assert email is not None, key
    return email


async def _queued_events(services: Services) -> int:
    async with services.runtime.read_sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Event).where(Event.type == mail.EMAIL_QUEUED)
        )
    return count or 0


def _sent_once(services: Services, smtp: SmtpServer, key: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        email = await _email(services, key)
        return email.sent_at is not None and len(smtp.received) == 1

    return check


def _sweep(services: Services) -> MailSweep:
    runtime = services.runtime
    return MailSweep(runtime.transactions, runtime.read_sessionmaker, services.broker.state.mail)


async def test_a_queued_email_is_sent_once_after_commit(
    settings: Settings,
    services: Services,
    smtp_server: SmtpServer,
) -> None:
    key = "dunning:invoice:12:step:2"
    async with services.runtime.sessionmaker() as session, session.begin():
        queued = await mail.queue_email(
            session, key=key, to=TO, subject=SUBJECT, text=TEXT, html=HTML
        )
    services.runtime.dispatcher.kick()

    await eventually(_sent_once(services, smtp_server, key))

    assert queued is True
    [received] = smtp_server.received
    message = received.message
    assert received.rcpt_tos == [TO]
    assert message["To"] == TO
    assert message["From"] == settings.mail_from
    assert message["Subject"] == SUBJECT
    assert message["Message-ID"] == message_id(key, settings.mail_from)
    assert message["Auto-Submitted"] == "auto-generated"
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None and html_part is not None
    # SMTP carries CRLF line ends.
    assert text_part.get_content().replace("\r\n", "\n") == TEXT
    assert html_part.get_content().strip() == HTML
    email = await _email(services, key)
    assert (email.attempts, email.last_error, email.next_attempt_at) == (1, None, None)
    # Another run of the job, and the sweep, find it sent.
    sender = services.broker.state.mail
    transactions = services.runtime.transactions
    assert await mail.send_queued_email(transactions, sender, email_id=email.id) is False
    assert await _sweep(services).run_once() == 0
    assert len(smtp_server.received) == 1


async def test_queuing_a_key_twice_sends_one_message(
    services: Services,
    smtp_server: SmtpServer,
) -> None:
    key = "dispute:7:opened"

    first = await _queue(services, key)
    second = await _queue(services, key, subject="a different subject")
    await eventually(_sent_once(services, smtp_server, key))
    third = await _queue(services, key)

    assert (first, second, third) == (True, False, False)
    assert await _queued_events(services) == 1
    [received] = smtp_server.received
    assert received.message["Subject"] == SUBJECT


async def test_concurrent_transactions_queue_a_key_once(
    services: Services,
    smtp_server: SmtpServer,
) -> None:
    key = "receipt:invoice:31"

    results = await asyncio.gather(*(_queue(services, key) for _ in range(5)))
    await eventually(_sent_once(services, smtp_server, key))

    assert sorted(results) == [False, False, False, False, True]
    assert await _queued_events(services) == 1
    async with services.runtime.read_sessionmaker() as session:
        rows = await session.scalar(select(func.count()).select_from(OutboundEmail))
    assert rows == 1


async def test_concurrent_sends_of_one_email_send_it_once(
    services: Services,
    smtp_server: SmtpServer,
) -> None:
    key = "dunning:invoice:40:step:1"
    await _queue(services, key)
    email_id = (await _email(services, key)).id
    sender = services.broker.state.mail
    transactions = services.runtime.transactions

    # Five sends race the event's own job for the one claim.
    results = await asyncio.gather(
        *(mail.send_queued_email(transactions, sender, email_id=email_id) for _ in range(5))
    )
    await eventually(_sent_once(services, smtp_server, key))

    assert sum(results) <= 1
    assert len(smtp_server.received) == 1
    assert (await _email(services, key)).attempts == 1


async def test_a_send_in_flight_holds_its_email(
    services: Services, smtp_server: SmtpServer
) -> None:
    key = "dunning:invoice:41:step:1"
    smtp_server.hold()
    await _queue(services, key)

    async def in_flight() -> bool:
        return smtp_server.held == 1

    await eventually(in_flight)  # the event's job is sending, the relay keeps it waiting
    email_id = (await _email(services, key)).id
    sender = services.broker.state.mail
    transactions = services.runtime.transactions
    again = [
        await mail.send_queued_email(transactions, sender, email_id=email_id) for _ in range(3)
    ]
    swept = await _sweep(services).run_once()
    smtp_server.release()
    await eventually(_sent_once(services, smtp_server, key))

    assert (again, swept) == ([False, False, False], 0)
    assert (await _email(services, key)).attempts == 1


async def test_a_failed_send_is_retried_once_the_relay_is_back(
    services: Services,
    smtp_server: SmtpServer,
) -> None:
    key = "dunning:invoice:55:step:3"
    smtp_server.stop()
    await _queue(services, key)

    async def failed() -> bool:
        email = await _email(services, key)
        return email.last_error is not None

    await eventually(failed)
    email = await _email(services, key)
    assert email.sent_at is None and email.attempts == 1
    assert email.last_error is not None and "SMTPConnect" in email.last_error
    assert email.next_attempt_at is not None and email.next_attempt_at > utcnow()
    assert await _sweep(services).run_once() == 0  # the retry waits for its time

    smtp_server.start()
    async with services.runtime.sessionmaker() as session, session.begin():
        # The retry's wait is over.
        await session.execute(
            update(OutboundEmail)
            .where(OutboundEmail.id == email.id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    await _sweep(services).run_once()
    await eventually(_sent_once(services, smtp_server, key))

    email = await _email(services, key)
    assert (email.attempts, email.next_attempt_at) == (2, None)
    assert smtp_server.received[0].message["Message-ID"] == message_id(
        key, services.runtime.settings.mail_from
    )
    assert "mail-sweep" in [loop.name for loop in services.loops]


async def test_a_recipient_refused_for_good_is_given_up(
    services: Services,
    smtp_server: SmtpServer,
) -> None:
    key = "receipt:invoice:77"
    smtp_server.refuse("gone@example.com")
    await _queue(services, key, to="gone@example.com")

    async def given_up() -> bool:
        email = await _email(services, key)
        return email.last_error is not None and email.next_attempt_at is None

    await eventually(given_up)
    email = await _email(services, key)
    assert email.sent_at is None and email.attempts == 1
    assert email.last_error is not None and "550" in email.last_error
    assert smtp_server.received == []


async def test_bad_headers_are_refused_before_they_are_stored(services: Services) -> None:
    async with services.runtime.sessionmaker() as session, session.begin():
        with pytest.raises(ValueError, match="subject"):
            await mail.queue_email(
                session, key="k", to=TO, subject="Hi\r\nBcc: x@example.com", text=TEXT
            )
        with pytest.raises(ValueError, match="to"):
            await mail.queue_email(
                session, key="k", to=f"{TO}, eve@example.com", subject=SUBJECT, text=TEXT
            )
        with pytest.raises(ValueError, match="key"):
            await mail.queue_email(session, key="k" * 201, to=TO, subject=SUBJECT, text=TEXT)


async def test_without_smtp_host_mail_is_written_to_the_log(database: Database) -> None:
    settings = make_settings(database)
    assert settings.smtp_host is None
    app = create_app(settings)
    key = "dispute:9:closed"
    with structlog.testing.capture_logs() as logged:
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            assert isinstance(services.broker.state.mail, LogMailSender)
            await _queue(services, key)

            async def sent() -> bool:
                return (await _email(services, key)).sent_at is not None

            await eventually(sent)

    [line] = [
        entry for entry in logged if entry.get("message_id") == message_id(key, settings.mail_from)
    ]
    assert line["log_level"] == "info"
    assert line["to"] == TO
    assert line["subject"] == SUBJECT
    assert line["lines"] == TEXT.splitlines()
