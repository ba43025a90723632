"""Limits on WebSockets (docs/api.md, "Limits"): connections per client address (refused
with HTTP 429 and Retry-After before the handshake completes) and per account (closed with
4029 at `connection_init`), messages per connection (4029) and their size (1009), and the
length of each operation's document. Also the idempotency key a `subscribe` message carries
(`payload.extensions.idempotencyKey`), handed to its operation.

Each socket's message count lives on the socket (`Throttle.local_counter`): a connection
lives in one process. The connection counts are shared through Redis like every other
rule."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Coroutine
from json import JSONDecodeError
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)

from app import db
from models.throttle import RateLimited, ip_group
from resolvers.context import Context, Runtime
from schema.core.extensions import OVERLOADED, OVERLOADED_RETRY_SECONDS
from schema.core.idempotency import EXTENSION as IDEMPOTENCY_KEY
from schema.core.idempotency import SOCKET_KEY
from schema.live.shared import LIVE_OPERATION, LiveOperation
from telemetry import metrics

CONNECT_IP = "ws_connect.ip"
CONNECT_ACCOUNT = "ws_connect.account"
MESSAGES = "ws_messages.connection"
# Close codes: 4029 "too many" (connections of an account, or messages on a connection;
# the reason says when to retry), and the standard 1009 for a message over the size limit.
CLOSE_RATE_LIMITED = 4029
CLOSE_TOO_BIG = 1009
# Tokens read to tell whether a keyed `subscribe` is a mutation (the operation itself is
# parsed under GRAPHQL_MAX_TOKENS; a longer one is refused there, and here is not a mutation).
MAX_TOKENS_PEEK = 10_000


class SocketRefused(Exception):
    """`connection_init` refused with a close code of ours (not the protocol's 4403)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


OPEN_PER_ADDRESS = "ws_open.ip"
# The metric labels of a handshake refused with 503: the process holds WS_MAX_CONNECTIONS
# sockets; its database pool is all in use.
PROCESS_FULL = "ws_open.process"
POOL_BUSY = "ws_open.pool"
# A socket refused because its address holds too many open ones: retry once some close.
OPEN_RETRY_SECONDS = 30


class OpenSockets:
    """WebSockets open at once per client address (IPv6 by /64) in this process: the rate of
    new connections alone would let one address hold thousands of idle sockets."""

    def __init__(self, limit: int, total: int = 20_000) -> None:
        self.limit = limit
        self.total = total  # WS_MAX_CONNECTIONS: every address together
        self.open: dict[str, int] = {}
        self.held = 0

    @property
    def full(self) -> bool:
        return self.held >= self.total

    def take(self, group: str) -> bool:
        held = self.open.get(group, 0)
        if held >= self.limit:
            return False
        self.open[group] = held + 1
        self.held += 1
        return True

    def give_back(self, group: str) -> None:
        self.held -= 1
        left = self.open.get(group, 0) - 1
        if left > 0:
            self.open[group] = left
        else:
            self.open.pop(group, None)


def client_group(websocket: WebSocket) -> str:
    address = websocket.scope.get("state", {}).get("client_ip") or (
        websocket.client.host if websocket.client else ""
    )
    return ip_group(address)


async def refuse_connection(
    runtime: Runtime, websocket: WebSocket, open_sockets: OpenSockets
) -> bool:
    """Count a new connection against its client address, and take its place among the
    address's open sockets; over either limit, answer the handshake with 429 and
    Retry-After (403 on a server without the WebSocket denial response extension) and
    return True. A process that holds WS_MAX_CONNECTIONS sockets answers 503 (overloaded:
    the load balancer's next try may land on another). A False answer holds a place: give
    it back when the socket ends."""
    if open_sockets.full:
        metrics.RATE_LIMITED.labels(PROCESS_FULL).inc()
        await _deny(
            websocket, overloaded_response(f"holds its most WebSockets ({open_sockets.total})")
        )
        return True
    if db.pool_saturated(runtime.read_sessionmaker.kw["bind"]):
        # Every database connection is in use: a socket taken now would start its
        # subscriptions behind all of them (and past the pool's wait, fail). Shed it at the
        # door; the client's retry lands when the pool has room, or on another instance.
        metrics.RATE_LIMITED.labels(POOL_BUSY).inc()
        await _deny(websocket, overloaded_response("has no database connection free"))
        return True
    group = client_group(websocket)
    verdict = await runtime.throttle.admit(CONNECT_IP, group)
    if verdict is not None:
        refused = runtime.throttle.refusal(CONNECT_IP, verdict)
    elif not open_sockets.take(group):
        metrics.RATE_LIMITED.labels(OPEN_PER_ADDRESS).inc()
        refused = RateLimited(
            OPEN_PER_ADDRESS,
            OPEN_RETRY_SECONDS,
            f"Too many open WebSockets from this address (at most {open_sockets.limit}); "
            "close some first.",
        )
    else:
        return False
    await _deny(websocket, too_many(refused))
    return True


async def _deny(websocket: WebSocket, response: JSONResponse) -> None:
    try:
        await websocket.send_denial_response(response)
    except RuntimeError:
        await websocket.close(code=1008)


def overloaded_response(why: str) -> JSONResponse:
    """HTTP 503 for a handshake the process cannot take, shaped like a GraphQL error."""
    return JSONResponse(
        {
            "errors": [
                {
                    "message": f"This server {why}; retry in {OVERLOADED_RETRY_SECONDS} seconds.",
                    "extensions": {"code": OVERLOADED, "retryAfter": OVERLOADED_RETRY_SECONDS},
                }
            ]
        },
        status_code=503,
        headers={"retry-after": str(OVERLOADED_RETRY_SECONDS), "cache-control": "no-store"},
    )


def too_many(refused: RateLimited) -> JSONResponse:
    """HTTP 429 for a request refused whole, shaped like a GraphQL error."""
    return JSONResponse(
        {"errors": [{"message": str(refused), "extensions": refused.extensions}]},
        status_code=429,
        headers={"retry-after": str(refused.retry_after), "cache-control": "no-store"},
    )


async def count_connection(runtime: Runtime, account_id: int) -> None:
    """At `connection_init` with a session: count the connection against its account."""
    try:
        await runtime.throttle.check(CONNECT_ACCOUNT, str(account_id))
    except RateLimited as refused:
        raise SocketRefused(
            CLOSE_RATE_LIMITED,
            f"Too many connections for this account; retry in {refused.retry_after} s",
        ) from refused


class LimitedWebSocket(ASGIWebSocketAdapter):
    """Reads messages, closing the socket with 1009 for one over `ws_max_message_bytes`
    and with 4029 past the connection's message rate."""

    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        self.messages = view.runtime.throttle.local_counter(MESSAGES)

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        # The view is ChirpGraphQL (app/view.py), which strawberry types as its base class.
        runtime: Runtime = self.view.runtime  # type: ignore[attr-defined]
        limit = runtime.settings.ws_max_message_bytes
        # The open-socket gauge lives here, in the coroutine a connection holds anyway, not
        # in a middleware frame of its own (see app.observe).
        metrics.WEBSOCKETS.inc()
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text) > limit or len(text.encode()) > limit:
                    metrics.RATE_LIMITED.labels("ws_message_size").inc()
                    await self.close(CLOSE_TOO_BIG, f"Messages are limited to {limit} bytes")
                    return
                verdict = self.messages.hit()
                if not verdict.allowed:
                    refused = runtime.throttle.refusal(MESSAGES, verdict)
                    reason = f"Too many messages; retry in {refused.retry_after} s"
                    await self.close(CLOSE_RATE_LIMITED, reason)
                    return
                try:
                    yield self.view.decode_json(text)
                except JSONDecodeError as e:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from e
        except KeyError as e:
            raise NonTextMessageReceived from e
        except WebSocketDisconnect:
            pass
        finally:
            metrics.WEBSOCKETS.dec()


class LimitedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with our refusals at `connection_init` and the document
    length limit on `subscribe`; each operation can send its own `next` messages (shared
    live delivery, `schema/live/shared.py`)."""

    def run_operation(  # type: ignore[override]
        self, operation: Operation[Context, None]
    ) -> Coroutine[Any, Any, None]:
        # Called as the operation's task is made: the task copies the context as it is now,
        # so its resolver sees its own LIVE_OPERATION. Not a coroutine wrapping strawberry's:
        # that frame would be held for as long as the subscription lives. `handle_subscribe`
        # clears the variable in the connection's own context once the task exists.
        LIVE_OPERATION.set(LiveOperation(operation, self.websocket.ws))  # type: ignore[attr-defined]
        return super().run_operation(operation)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except SocketRefused as refused:
            await self.websocket.close(code=refused.code, reason=refused.reason)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload")
        query = payload.get("query") if isinstance(payload, dict) else None
        limit = self.context.settings.max_query_length
        if isinstance(query, str) and len(query) > limit and self.connection_acknowledged:
            error = query_too_long(len(query), limit).formatted
            await self.send_message(ErrorMessage(id=message["id"], type="error", payload=[error]))
            return
        name = payload.get("operationName") if isinstance(payload, dict) else None
        if name is not None and not isinstance(name, str) and self.connection_acknowledged:
            # strawberry checks the payload's other members, not this one (an internal error).
            error = GraphQLError(
                "`operationName` must be a string or null.", extensions={"code": "BAD_USER_INPUT"}
            ).formatted
            await self.send_message(ErrorMessage(id=message["id"], type="error", payload=[error]))
            return
        # An idempotency key rides in `extensions`, which strawberry does not pass on: the
        # operation's task copies it from the context as it is made, as LIVE_OPERATION.
        extensions = payload.get("extensions") if isinstance(payload, dict) else None
        token = None
        if isinstance(extensions, dict) and IDEMPOTENCY_KEY in extensions:
            token = SOCKET_KEY.set(extensions[IDEMPOTENCY_KEY])
        running = self.operations.get(message["id"])
        try:
            await super().handle_subscribe(message)
        finally:
            LIVE_OPERATION.set(None)
            if token is not None:
                SOCKET_KEY.reset(token)
        started = self.operations.get(message["id"])
        if started is None or started is running:
            return  # refused (a duplicate id, too many operations): nothing new runs
        if token is not None and _mutation(query, name):
            self._keyed = {*self._keyed_ids(), message["id"]}
        else:
            # An id is reused once its operation is over, however that ended.
            self._forget_keyed(message["id"])

    def _keyed_ids(self) -> set[str]:
        """Ids of running mutations sent with an idempotency key. Set only on connections
        that sent one: an idle socket carries nothing for it."""
        keyed: set[str] = getattr(self, "_keyed", set())
        return keyed

    def _forget_keyed(self, operation_id: str) -> None:
        if operation_id in self._keyed_ids():
            self._keyed = self._keyed_ids() - {operation_id}

    async def cleanup_operation(self, operation_id: str) -> None:
        # A keyed mutation runs to its end when its client goes (or sends `complete`):
        # cancelled after its first write committed, it would leave its key without an
        # answer, IN_USE until it expires. Nothing more is sent for it; its answer is stored
        # for the client's retry. (A key on a query or subscription changes nothing.)
        operation = self.operations.get(operation_id)
        if operation is not None and operation_id in self._keyed_ids():
            self._forget_keyed(operation_id)
            del self.operations[operation_id]
            operation.completed = True
            return
        await super().cleanup_operation(operation_id)

    def forget_id(self, id: str) -> None:
        self._forget_keyed(id)
        super().forget_id(id)


def _mutation(query: object, name: object) -> bool:
    """Whether a `subscribe` message's document (already within the length limit) runs a
    mutation; parsed again only for keyed operations."""
    if not isinstance(query, str) or not (name is None or isinstance(name, str)):
        return False
    try:
        operation = get_operation_ast(parse(query, max_tokens=MAX_TOKENS_PEEK), name)
    except GraphQLError:
        return False
    return operation is not None and operation.operation is OperationType.MUTATION


def query_too_long(length: int, limit: int) -> GraphQLError:
    """The error for an operation document over GRAPHQL_MAX_QUERY_LENGTH characters."""
    return GraphQLError(
        f"The document is {length} characters long; at most {limit} are accepted "
        "(comments and white space count).",
        extensions={"code": "BAD_USER_INPUT"},
    )
