"""A real webhook receiver for tests: a Starlette app served by uvicorn on 127.0.0.1 (a free
port, in the test's own event loop). It records every request, checks its signature against
the secrets it was given, and answers with the statuses it was told to."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from models.integrations import signing
from tests.support.servers import free_port, serving


@dataclass
class Received:
    at: float  # time.monotonic()
    headers: dict[str, str]
    body: bytes
    status: int
    valid_secrets: list[str]

    @property
    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    secrets: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    answers: deque[int] = field(default_factory=deque)
    default_status: int = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def fail_next(self, times: int, status: int = 503) -> None:
        self.answers.extend([status] * times)

    async def _hook(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        header = request.headers.get("chirp-signature", "")
        valid = [s for s in self.secrets if signing.verify(header, body, s)]
        status = self.answers.popleft() if self.answers else self.default_status
        self.received.append(Received(time.monotonic(), dict(request.headers), body, status, valid))
        return PlainTextResponse("ok" if status < 300 else "receiver says no " * 100, status)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Receiver]:
        app = Starlette(routes=[Route("/hooks", self._hook, methods=["POST"])])
        async with serving(app, self.port, ws="none"):
            yield self
