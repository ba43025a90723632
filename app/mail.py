"""Sending queued email: over SMTP (aiosmtplib), or into the log when SMTP_HOST is unset
(development; production refuses to start without it). The sweep that sends what is due is
mail's own (models/mail/sweep.py).

The message is built from the row alone, so every attempt sends the same message: the same
Message-ID (derived from the key, for receivers to drop a copy) and the same Date."""

from __future__ import annotations

import asyncio
import hashlib
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib
import structlog

from app.settings import Settings
from models.mail.actions import Mail, MailRefused, MailSender

SMTP_TIMEOUT = 20.0  # seconds per SMTP command
SEND_TIMEOUT = 60.0  # seconds for a whole send, well inside `mail.SEND_LEASE`
LOGGED_LINES = 5


def message_id(key: str, sender: str) -> str:
    """The Message-ID of the email of `key`: the same on every attempt."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "chirp.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def build_message(queued: Mail, *, sender: str) -> EmailMessage:
    """The message of a queued email: plain text, with an HTML alternative when it has one."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = queued.to
    message["Subject"] = queued.subject
    message["Date"] = format_datetime(queued.created_at)
    message["Message-ID"] = message_id(queued.key, sender)
    # RFC 3834: out-of-office and other automatic replies are not sent back to us.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(queued.text)
    if queued.html is not None:
        message.add_alternative(queued.html, subtype="html")
    return message


class SmtpMailSender:
    """Sends through the SMTP relay at SMTP_HOST:SMTP_PORT (STARTTLS when it offers it)."""

    def __init__(self, *, host: str, port: int, sender: str) -> None:
        self._host = host
        self._port = port
        self._sender = sender

    async def send(self, mail: Mail) -> None:
        message = build_message(mail, sender=self._sender)
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await aiosmtplib.send(
                    message, hostname=self._host, port=self._port, timeout=SMTP_TIMEOUT
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(refused.code >= 500 for refused in exc.recipients):
                raise MailRefused(str(exc)) from exc
            raise
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as exc:
            if exc.code >= 500:
                raise MailRefused(str(exc)) from exc
            raise


class LogMailSender:
    """Development without an SMTP relay: writes each email to the log instead."""

    def __init__(self, *, sender: str) -> None:
        self._sender = sender

    async def send(self, mail: Mail) -> None:
        structlog.get_logger("chirp.mail").info(
            "mail not sent (SMTP_HOST is unset); logged instead",
            to=mail.to,
            subject=mail.subject,
            lines=mail.text.splitlines()[:LOGGED_LINES],
            message_id=message_id(mail.key, self._sender),
        )


def create_mail_sender(settings: Settings) -> MailSender:
    if settings.smtp_host is None:
        return LogMailSender(sender=settings.mail_from)
    return SmtpMailSender(
        host=settings.smtp_host, port=settings.smtp_port, sender=settings.mail_from
    )
