"""A real HTTP proxy in front of localstripe that records each request's idempotency key and
can lose an answer: it forwards the request (Stripe does the work) and then drops the
connection, as a timeout or a network fault would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from app.settings import Settings
from tests.conftest import make_settings
from tests.support.backends import Database
from tests.support.servers import free_port
from tests.support.stripe import LocalStripe

HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}


@dataclass
class Seen:
    method: str
    path: str
    idempotency_key: str | None
    status: int | None = None


@dataclass
class RecordingProxy:
    upstream: str
    port: int = field(default_factory=free_port)
    seen: list[Seen] = field(default_factory=list)
    # (method, path suffix): the next answer to a matching request is lost, once each.
    lose_next: set[tuple[str, str]] = field(default_factory=set)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def keys(self, method: str, suffix: str) -> list[str | None]:
        """The idempotency keys of the requests seen whose path ends with `suffix`."""
        return [
            s.idempotency_key for s in self.seen if s.method == method and s.path.endswith(suffix)
        ]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        record = Seen(request.method, request.path, request.headers.get("Idempotency-Key"))
        self.seen.append(record)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, self.upstream + request.path_qs, data=body, headers=headers
            ) as answer,
        ):
            payload = await answer.read()
            record.status = answer.status
            content_type = answer.headers.get("Content-Type", "application/json")
        lost = {
            (m, p) for m, p in self.lose_next if m == request.method and request.path.endswith(p)
        }
        if lost:
            self.lose_next -= lost
            assert request.transport is not None
            request.transport.close()
            raise ConnectionResetError("answer lost on purpose")
        return web.Response(
            status=answer.status,
            body=payload,
            content_type=None,
            headers={"Content-Type": content_type},
        )


@asynccontextmanager
async def recording_proxy(upstream: str) -> AsyncIterator[RecordingProxy]:
    proxy = RecordingProxy(upstream)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", proxy.port)
    await site.start()
    try:
        yield proxy
    finally:
        await runner.cleanup()


@pytest.fixture(name="proxy")
async def proxy_fixture(localstripe: LocalStripe) -> AsyncIterator[RecordingProxy]:
    """A recording proxy in front of the session's localstripe, for one test."""
    async with recording_proxy(localstripe.api_base) as found:
        yield found


@pytest.fixture(name="settings")
def proxied_settings(database: Database, proxy: RecordingProxy) -> Settings:
    """The test settings with Stripe behind `proxy`; the servers' own billing sweep does not
    tick during a test (each test sweeps at its own `now`). Import it to use it."""
    return make_settings(database, stripe_api_base=proxy.api_base, billing_sweep_interval=3600.0)
