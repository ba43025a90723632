"""A real localstripe for tests, and Stripe-shaped events signed as Stripe signs them.

The `localstripe` fixture (registered in tests/conftest.py) runs `chirp localstripe` on a
free port of 127.0.0.1 once per session. Billing tests opt in with
`make_settings(database, stripe_api_base=localstripe.api_base)`; by default the settings
point at a port where nothing listens. localstripe cannot send some events (disputes, for
instance): build them with `stripe_event` and sign them with `sign_event`.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from app.settings import Settings
from models.billing.gateway import HTTPXClient
from tests.support.servers import ROOT, START_TIMEOUT, _Process, free_port

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel SIGTERM the child when pytest dies, even by SIGKILL
    (the fixture's teardown then never runs). Linux only; elsewhere the teardown has to do."""
    if sys.platform != "linux":
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork, not in the child

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return preexec


class LocalStripeProcess(_Process):
    """`chirp localstripe` on a free port of 127.0.0.1."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__("localstripe", log_dir / "localstripe.log")
        self.port = free_port()
        self.api_base = f"http://127.0.0.1:{self.port}"

    def _spawn(self, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        assert self._proc is None, f"{self.name} is already running"
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=None if env is None else dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C on pytest does not reach it first
                # Only a prctl call runs between fork and exec: safe with threads around.
                preexec_fn=_die_with_parent(),
            )

    async def start(self, within: float = START_TIMEOUT) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
        env.update(CHIRP_ENV="test", PYTHONUNBUFFERED="1")
        argv = [sys.executable, "-m", "app.cli", "localstripe", "--port", str(self.port)]
        self._spawn(argv, env)
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.api_base, timeout=2.0) as http:
            while True:
                if not self.running:
                    self._fail(f"{self.name} exited before it answered")
                try:
                    # Needs no key: any answer means the server is up.
                    await http.get("/js.stripe.com/v3/")
                    return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    await self.kill()
                    self._fail(f"{self.name} did not answer within {within:.0f}s")
                await asyncio.sleep(0.05)


class LocalStripe:
    """The session's localstripe: its address, its configuration API, and SDK clients."""

    def __init__(self, process: LocalStripeProcess) -> None:
        self.process = process
        self.api_base = process.api_base
        self._clients: list[stripe.HTTPXClient] = []

    async def configure_webhook(
        self, url: str, secret: str, *, events: Sequence[str] | None = None
    ) -> None:
        """Send localstripe's events (all, or only `events`) to `url`, signed with `secret`.
        There is one endpoint: this replaces the previous one."""
        document: dict[str, Any] = {"url": url, "secret": secret}
        if events is not None:
            document["events"] = list(events)
        await self._config("POST", "/_config/webhooks/chirp", json=document)

    async def remove_webhook(self) -> None:
        """Send no more events (localstripe has no delete: an endpoint that takes none)."""
        await self.configure_webhook(f"{self.api_base}/nowhere", "whsec_unused", events=[])

    async def flush(self) -> None:
        """Forget every object (customers, payment methods, intents...)."""
        await self._config("DELETE", "/_config/data")

    def client(self, settings: Settings) -> stripe.StripeClient:
        """A StripeClient with `settings`' key and timeout, talking to this localstripe. It
        is closed at the end of the session."""
        http_client = HTTPXClient(timeout=settings.stripe_timeout)
        self._clients.append(http_client)
        return stripe.StripeClient(
            settings.stripe_api_key,
            base_addresses={"api": self.api_base},
            http_client=http_client,
            max_network_retries=0,
        )

    async def aclose(self) -> None:
        for http_client in self._clients:
            await http_client.close_async()  # type: ignore[no-untyped-call]
        self._clients.clear()

    async def _config(self, method: str, path: str, **kwargs: Any) -> None:
        async with httpx.AsyncClient(base_url=self.api_base, timeout=5.0) as http:
            response = await http.request(method, path, **kwargs)
        assert response.status_code == 200, f"localstripe: {response.status_code} {response.text}"


@pytest.fixture(scope="session")
async def localstripe(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalStripe]:
    """A real localstripe on 127.0.0.1 for the whole session, stopped at its end."""
    process = LocalStripeProcess(tmp_path_factory.mktemp("localstripe"))
    await process.start()
    server = LocalStripe(process)
    try:
        yield server
    finally:
        await server.aclose()
        await process.terminate()


def stripe_event(
    type: str,
    obj: Mapping[str, Any],
    *,
    event_id: str | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """A Stripe event envelope around `obj` (a Stripe object as a dict), as webhooks carry."""
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(time.time()) if created is None else created,
        "data": {"object": dict(obj)},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }


def sign_event(
    payload: Mapping[str, Any], secret: str, *, timestamp: int | None = None
) -> tuple[bytes, str]:
    """The raw body of `payload` and its `Stripe-Signature` header, made by the SDK's own
    signing code (`WebhookSignature.generate_signature_header`, public for tests)."""
    body = json.dumps(payload, indent=2)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)
    return body.encode(), header
