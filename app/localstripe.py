"""localstripe (a local Stripe-compatible server) for development and tests.

Its own `localstripe` command listens on every interface and keeps its objects in
/tmp/localstripe.pickle, loaded back at start-up and rewritten after every change. Here it
listens on 127.0.0.1 only and keeps nothing on disk: each start is empty, and two of them
(`make run` and a test session) never read or overwrite each other's data.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import httpx
from aiohttp import web

HOST = "127.0.0.1"
# Registering again under the same id replaces the endpoint instead of adding a second one.
WEBHOOK_ID = "chirp"
REGISTER_TIMEOUT = 5.0

log = logging.getLogger("chirp.localstripe")


class LocalStripeError(Exception):
    """localstripe could not be started or configured."""


def api_base(port: int) -> str:
    return f"http://{HOST}:{port}"


async def register_webhook(base: str, *, url: str, secret: str) -> None:
    """Have the localstripe at `base` send its events to `url`, signed with `secret`."""
    if not url.startswith(("http://", "https://")):
        raise LocalStripeError(f"the webhook URL must be http:// or https://, not {url!r}")
    async with httpx.AsyncClient(base_url=base, timeout=REGISTER_TIMEOUT) as http:
        try:
            response = await http.post(
                f"/_config/webhooks/{WEBHOOK_ID}", data={"url": url, "secret": secret}
            )
        except httpx.TransportError as exc:
            raise LocalStripeError(f"localstripe at {base} did not answer: {exc!r}") from exc
    if response.status_code != 200:
        raise LocalStripeError(
            f"localstripe refused the webhook endpoint: {response.status_code} {response.text}"
        )


async def serve(*, port: int, webhook_url: str | None, webhook_secret: str) -> None:
    """Serve localstripe on 127.0.0.1:`port` until SIGINT or SIGTERM."""
    # Imported here: localstripe builds its aiohttp application at import time.
    from localstripe import resources, server

    resources.store.dump_to_disk = _keep_nothing
    resources.store.clear()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(server.app)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, HOST, port).start()
        except OSError as exc:
            raise LocalStripeError(f"cannot listen on {HOST}:{port}: {exc.strerror}") from exc
        if webhook_url:
            await register_webhook(api_base(port), url=webhook_url, secret=webhook_secret)
            log.info("localstripe sends its events to %s", webhook_url)
        log.info("localstripe listens on %s", api_base(port))
        await stop.wait()
    finally:
        await runner.cleanup()


def _keep_nothing() -> None:
    """Stands in for localstripe's Store.dump_to_disk."""
