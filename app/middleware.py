"""ASGI middleware: a request id on every request, the client's address (through trusted
proxies only), bearer-token authentication, and the cut-off of WebSocket clients that stop
reading."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.accounts import actions as accounts
from models.outages import unavailable
from resolvers.context import Runtime
from schema.core.extensions import UNAVAILABLE_RETRY_SECONDS, internal_error, unavailable_error
from telemetry import metrics

log = logging.getLogger("chirp.http")

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Downloads (app/invoice_files.py) authenticated by the same session token as /graphql.
SESSION_PATH_PREFIXES = ("/billing/invoices/", "/billing/credit-notes/")


class RequestId:
    """Accepts a sane incoming X-Request-ID or makes one, and returns it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine itself: where it only passes a call on, it returns the next app's
        # awaitable, so a WebSocket's life holds no frame of it (idle sockets stay small).
        if scope["type"] not in ("http", "websocket"):
            return self.app(scope, receive, send)
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        if scope["type"] == "websocket":
            return self.app(scope, receive, send)

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
                started = True
            await send(message)

        async def guarded() -> None:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                # Whatever escapes the app (a middleware's lookup while PostgreSQL or
                # Redis is down) is answered in GraphQL's shape with the request id, never
                # as a plain-text 500 with the exception in the log only.
                if started:
                    raise
                await _escaped(send_with_id, request_id, exc)

        return guarded()


async def _escaped(send: Send, request_id: str, exc: Exception) -> None:
    if unavailable(exc):
        log.warning("a dependency is unavailable (request %s): %r", request_id, exc)
        status, error = 503, unavailable_error(request_id)
        headers = [(b"retry-after", str(UNAVAILABLE_RETRY_SECONDS).encode())]
    else:
        log.error("unhandled error (request %s)", request_id, exc_info=exc)
        status, error, headers = 500, internal_error(request_id), []
    await send_json(send, status, {"errors": [error.formatted]}, [*headers, NO_STORE])


NO_STORE = (b"cache-control", b"no-store")


async def send_json(
    send: Send, status: int, payload: object, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """A whole JSON answer from ASGI middleware, before any app ran or after one failed."""
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# graphql-transport-ws has no code for it; 4008 is the one Chirp documents (docs/api.md).
CLOSE_SLOW_CONSUMER = 4008
SLOW_CONSUMER = "Slow consumer: the client stopped reading; resubscribe with `after`"


class SlowConsumers:
    """A WebSocket whose client stops reading is closed with 4008 within `send_timeout`
    seconds, even though its sends block (uvicorn waits for the socket to drain before each
    frame, so the stream would wait for ever and never see its queue overflow). The close
    frame is written past that wait, behind what is queued; the connection is aborted
    `grace` seconds later unless the client reads on and answers it. Memory stays bounded:
    the subscriptions end, and the transport's buffer goes with the abort. Outermost, so
    that `send` is the server's own."""

    def __init__(self, app: ASGIApp, *, send_timeout: float, grace: float = 5.0) -> None:
        self.app = app
        self.send_timeout = send_timeout
        self.grace = grace

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "websocket" or self.send_timeout <= 0:
            return self.app(scope, receive, send)
        return self.app(scope, receive, _BoundedSend(send, self.send_timeout, self.grace))


class _BoundedSend:
    __slots__ = ("cut", "grace", "send", "timeout")

    def __init__(self, send: Send, timeout: float, grace: float) -> None:
        self.send = send
        self.timeout = timeout
        self.grace = grace
        self.cut = False

    async def __call__(self, message: Message) -> None:
        if self.cut:
            # Starlette answers an OSError from `send` as a disconnection (1006).
            raise OSError("the connection was closed: slow consumer")
        if message["type"] not in ("websocket.send", "websocket.close"):
            await self.send(message)
            return
        try:
            async with asyncio.timeout(self.timeout):
                await self.send(message)
        except RuntimeError:
            if self.cut:  # a send that waited beside the one that cut the socket off
                raise OSError("the connection was closed: slow consumer") from None
            raise
        except TimeoutError:
            if self.cut:  # cut off meanwhile by a send beside this one
                raise OSError("the connection was closed: slow consumer") from None
            self.cut = True
            code, reason = CLOSE_SLOW_CONSUMER, SLOW_CONSUMER
            if message["type"] == "websocket.close":  # the app's own close, blocked too
                code, reason = message.get("code", 1000), message.get("reason") or ""
            metrics.SLOW_CONSUMERS.inc()
            log.info("closing a WebSocket whose client stopped reading (%s)", code)
            cut_off(self.send, code, reason, grace=self.grace)
            raise OSError("the connection was closed: slow consumer") from None


def cut_off(send: Send, code: int, reason: str, *, grace: float) -> None:
    """Queue a close frame on uvicorn's websockets-sansio connection without waiting for
    the socket to drain, tell the app the socket is gone, and abort the connection after
    `grace` seconds unless the client completes the close. Another server keeps its own
    keepalive timeout."""
    protocol: Any = getattr(send, "__self__", None)
    conn, transport = getattr(protocol, "conn", None), getattr(protocol, "transport", None)
    if conn is None or transport is None or protocol.close_sent or transport.is_closing():
        return
    conn.send_close(code, reason)
    transport.write(b"".join(conn.data_to_send()))
    protocol.close_sent = True
    if getattr(protocol, "read_paused", False):  # so the client's close reply is read
        protocol.read_paused = False
        transport.resume_reading()
    protocol.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
    protocol.close_timer = protocol.loop.call_later(grace, transport.abort)


class HttpOnly:
    """Runs `middleware` (a class, built with `options`) for HTTP requests only: any other
    scope goes straight to the next app, so a WebSocket's life holds no frame of either."""

    def __init__(self, app: ASGIApp, /, middleware: Callable[..., ASGIApp], **options: Any) -> None:
        self.app = app
        self.http = middleware(app, **options)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "http":
            return self.http(scope, receive, send)
        return self.app(scope, receive, send)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddress:
    """Puts the client's IP address in `scope["state"]["client_ip"]`: the peer's, or, when
    the peer is a trusted proxy, the right-most address in X-Forwarded-For that is not one
    (a client can prepend anything to that header; only what trusted hops appended counts)."""

    def __init__(self, app: ASGIApp, trusted_proxies: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(p, strict=False) for p in trusted_proxies
        )

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Returns the next app's awaitable rather than awaiting it (see RequestId).
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            peer = client[0] if client else ""
            scope.setdefault("state", {})["client_ip"] = self.client_ip(
                peer, Headers(scope=scope).getlist("x-forwarded-for")
            )
        return self.app(scope, receive, send)

    def is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def client_ip(self, peer: str, forwarded: list[str]) -> str:
        if not self.trusted or not self.is_trusted(peer):
            return peer
        hops = [h.strip() for line in forwarded for h in line.split(",") if h.strip()]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # a malformed hop: believe nothing beyond the trusted peer
            if not self.is_trusted(hop):
                return hop
        return hops[0] if hops else peer


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""
    return token.strip()


class BearerAuth:
    """Resolves `Authorization: Bearer <token>` to a viewer once per HTTP request. A token that
    is unknown, expired or revoked gets 401 with a GraphQL-shaped error, never anonymity."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Only /graphql and billing documents take session tokens; /metrics has its own.
        # What passes through is handed on, not awaited here (see RequestId).
        path = scope.get("path", "")
        if scope["type"] != "http" or not (
            path == "/graphql" or path.startswith(SESSION_PATH_PREFIXES)
        ):
            return self.app(scope, receive, send)
        return self._authenticate(scope, receive, send)

    async def _authenticate(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = bearer_token(Headers(scope=scope).get("authorization"))
        state = scope.setdefault("state", {})
        if token is not None:
            auth = None
            if token:
                async with self.runtime.read_sessionmaker() as session:
                    auth = await accounts.authenticate(session, token=token)
            if auth is None:
                await unauthenticated(send)
                return
            state["viewer"], state["session_id"] = auth.account, auth.session_id
            state["second_factor"] = auth.second_factor
        await self.app(scope, receive, send)


async def unauthenticated(send: Send) -> None:
    """401 for a token that is unknown, expired or revoked (never cached)."""
    error = {
        "message": "The session token is unknown, expired or revoked; log in again.",
        "extensions": {"code": "UNAUTHENTICATED"},
    }
    await send_json(send, 401, {"errors": [error]}, [(b"www-authenticate", b"Bearer"), NO_STORE])
