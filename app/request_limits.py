"""Limits on every HTTP request, checked before anything reads it (docs/api.md, "Limits"):

- the query string: 414 past MAX_QUERY_STRING_BYTES;
- the body: 413 past MAX_BODY_BYTES (MAX_WEBHOOK_BODY_BYTES for Stripe's webhooks). A
  Content-Length over the limit is refused at once, unread; a body without one (chunked)
  is read only up to the limit, then refused;
- the rate of /graphql requests per client address (`requests.ip`): 429 with Retry-After,
  counted by `app/compiled.py` (`refused_request`, or with the query budget in one round
  trip), which sits inside this middleware.

Refusals are GraphQL-shaped (`{"errors": [{"message", "extensions": {"code"}}]}`), but
on Stripe's endpoint shaped like its other answers (`{"error": {"code", "message"}}`), and
counted in `chirp_rate_limited_total{limit}`."""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import stripe_webhooks
from app.middleware import send_json
from app.sockets import too_many
from models.throttle import ip_group
from resolvers.context import Runtime
from telemetry import metrics

REQUESTS_IP = "requests.ip"


class BodyTooLarge(Exception):
    """The streamed body went past the limit (raised from `receive`, caught below)."""


class RequestLimits:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        settings = runtime.settings
        self.max_body = settings.max_body_bytes
        self.max_bodies = {stripe_webhooks.PATH: settings.max_webhook_body_bytes}
        self.max_query_string = settings.max_query_string_bytes

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # A WebSocket is handed on, not awaited here: its life holds no frame of this.
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if len(scope.get("query_string", b"")) > self.max_query_string:
            await _refuse(send, path, 414, "URI_TOO_LONG", "query_string", self.max_query_string)
            return
        limit = self.max_bodies.get(path, self.max_body)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, path, 413, "PAYLOAD_TOO_LARGE", "body", limit)
            return
        await self._bounded(scope, receive, send, limit)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except BodyTooLarge:
            if started:  # too late for a status: the connection just ends
                raise
            await _refuse(send, scope["path"], 413, "PAYLOAD_TOO_LARGE", "body", limit)


async def refused_request(runtime: Runtime, scope: Scope, receive: Receive, send: Send) -> bool:
    """Count one /graphql request against its address (`requests.ip`); True when it was
    refused and answered 429."""
    throttle = runtime.throttle
    address = scope.get("state", {}).get("client_ip", "")
    verdict = await throttle.admit(REQUESTS_IP, ip_group(address))
    if verdict is None:
        return False
    await too_many(throttle.refusal(REQUESTS_IP, verdict))(scope, receive, send)
    return True


async def _refuse(send: Send, path: str, status: int, code: str, what: str, limit: int) -> None:
    metrics.RATE_LIMITED.labels(f"{what}_size").inc()
    message = {
        "body": f"The request body is over the limit of {limit} bytes.",
        "query_string": f"The query string is over the limit of {limit} bytes; use POST.",
    }[what]
    shaped: dict[str, object] = (
        {"error": {"code": code, "message": message}}
        if path == stripe_webhooks.PATH
        else {"errors": [{"message": message, "extensions": {"code": code, "limit": limit}}]}
    )
    # No "connection: close": closing while the client still sends would reset the
    # connection before it reads this answer. uvicorn discards the rest of the body
    # (unparsed, unstored) and keeps the connection.
    await send_json(send, status, shaped)
