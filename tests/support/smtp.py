"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 and a free port, in a thread of its
own. It keeps every message it accepts, and can be stopped and started again on the same
port, like a relay that goes away and comes back."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support.servers import free_port

HOLD_TIMEOUT = 30.0


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    port: int = field(default_factory=free_port)
    _received: list[Received] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)
    _held: int = 0
    _controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def with_message_id(self, message_id: str) -> list[Received]:
        return [r for r in self.received if r.message["Message-ID"] == message_id]

    @property
    def held(self) -> int:
        """How many messages wait for `release` before they are accepted."""
        with self._lock:
            return self._held

    def hold(self) -> None:
        """Keep the next messages waiting after their data, until `release`."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def refuse(self, address: str) -> None:
        """Answer RCPT TO for `address` with a permanent failure (550)."""
        self.refused.add(address)

    async def handle_RCPT(  # noqa: N802
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        if not self._released.is_set():
            with self._lock:
                self._held += 1
            await asyncio.to_thread(self._released.wait, HOLD_TIMEOUT)
            with self._lock:
                self._held -= 1
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        assert self._controller is None, "already running"
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpServer]:
    """A running SMTP server that collects what it receives (import this into a test module
    to use `smtp_server`)."""
    server = SmtpServer()
    server.release()
    server.start()
    try:
        yield server
    finally:
        server.release()
        server.stop()
