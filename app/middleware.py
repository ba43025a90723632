"""ASGI middleware: a request id on every request, and bearer-token authentication."""

from __future__ import annotations

import json
import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.accounts import actions as accounts
from resolvers.context import Runtime

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Downloads (app/invoice_files.py) authenticated by the same session token as /graphql.
SESSION_PATH_PREFIXES = ("/billing/invoices/", "/billing/credit-notes/")


class RequestId:
    """Accepts a sane incoming X-Request-ID or makes one, and returns it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Only /graphql and billing documents take session tokens; /metrics has its own.
        path = scope.get("path", "")
        if scope["type"] != "http" or not (
            path == "/graphql" or path.startswith(SESSION_PATH_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        token = bearer_token(Headers(scope=scope).get("authorization"))
        state = scope.setdefault("state", {})
        if token is not None:
            auth = None
            if token:
                async with self.runtime.read_sessionmaker() as session:
                    auth = await accounts.authenticate(session, token=token)
            if auth is None:
                await _unauthenticated(send)
                return
            state["viewer"], state["session_id"] = auth.account, auth.session_id
            state["second_factor"] = auth.second_factor
        await self.app(scope, receive, send)


async def _unauthenticated(send: Send) -> None:
    body = json.dumps(
        {
            "errors": [
                {
                    "message": "The session token is unknown, expired or revoked; log in again.",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }
            ]
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b"Bearer"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
