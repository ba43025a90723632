"""The GraphQL endpoint: context per request, WebSocket authentication and limits
(`app/sockets.py`), and the GraphQL-over-HTTP media type with the status codes its
specification gives."""

from __future__ import annotations

from datetime import timedelta
from json import JSONDecodeError
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from app.middleware import bearer_token
from app.sockets import (
    LimitedTransportWS,
    LimitedWebSocket,
    OpenSockets,
    client_group,
    count_connection,
    query_too_long,
    refuse_connection,
)
from models.accounts import actions as accounts
from models.idempotency.errors import KEY_IN_USE, KEY_INVALID, KEY_REUSED
from resolvers.context import Context, Runtime
from schema.core.extensions import OVERLOADED, SERVICE_UNAVAILABLE
from schema.core.idempotency import REPLAY_MARKER

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


class ChirpGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = LimitedWebSocket  # type: ignore[assignment]
    graphql_transport_ws_handler_class = LimitedTransportWS

    def __init__(self, schema: BaseSchema, runtime: Runtime) -> None:
        settings = runtime.settings
        super().__init__(
            schema,
            graphql_ide=None if settings.is_production else "graphiql",
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=20,
            allowed_origins=settings.cors_origins,
        )
        self.runtime = runtime
        self.open_sockets = OpenSockets(
            settings.ws_max_open_per_address, settings.ws_max_connections
        )

    async def run(  # type: ignore[override]
        self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET
    ) -> Any:
        if not isinstance(request, WebSocket):
            return await super().run(request, context, root_value)
        if await refuse_connection(self.runtime, request, self.open_sockets):
            return request
        try:
            return await super().run(request, context, root_value)
        finally:
            self.open_sockets.give_back(client_group(request))

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.scope.get("state", {})
        return Context(
            runtime=self.runtime,
            request=request,
            request_id=state.get("request_id", "-"),
            viewer=state.get("viewer"),
            session_id=state.get("session_id"),
            second_factor=state.get("second_factor", False),
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        params = context.connection_params or {}
        raw = params.get("authorization") or params.get("Authorization")
        if raw is None:
            return {"viewer": None}
        token = bearer_token(str(raw)) if " " in str(raw) else str(raw)
        auth = None
        if token:
            async with self.runtime.read_sessionmaker() as session:
                auth = await accounts.authenticate(session, token=token)
        if auth is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        await count_connection(self.runtime, auth.account.id)
        context.viewer, context.session_id = auth.account, auth.session_id
        context.second_factor = auth.second_factor
        return {"viewer": auth.account.handle}

    async def execute_single(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> ExecutionResult:
        # Parsing costs time in the document's length, comments included (which the token
        # limit does not count): a longer one is refused before it is parsed.
        query = getattr(kwargs.get("request_data"), "query", None)
        limit = self.runtime.settings.max_query_length
        if isinstance(query, str) and len(query) > limit:
            return PreExecutionError(data=None, errors=[query_too_long(len(query), limit)])
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            refused = exc.__cause__
            if not isinstance(refused, InvalidOperationTypeError):
                raise
            if refused.operation_type is OperationType.SUBSCRIPTION:
                raise HTTPException(
                    400, "Subscriptions are served over a WebSocket (graphql-transport-ws)."
                ) from exc
            # GraphQL over HTTP: a mutation sent with GET is 405, not 400.
            raise HTTPException(405, "Mutations must be sent with POST.") from exc

    def decode_json(self, data: str | bytes) -> object:
        # JSON nested deeper than the interpreter's recursion limit (a body of brackets well
        # under the size limit) is bad JSON, answered like any other (400; on a WebSocket,
        # 4400), not a RecursionError and a 500. Bodies, GET parameters and socket messages
        # all come through here.
        try:
            return super().decode_json(data)
        except RecursionError as exc:
            text = data if isinstance(data, str) else ""
            raise JSONDecodeError("JSON nested too deeply", text, 0) from exc

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        try:
            parsed = await super().parse_http_body(request)
        except (AttributeError, TypeError, ValueError) as exc:
            # ValueError covers bodies that are not UTF-8 (UnicodeDecodeError).
            raise HTTPException(
                400, "The request body must be a JSON object with a `query` string."
            ) from exc
        # strawberry checks the other members' types, not this one's.
        name = getattr(parsed, "operation_name", None)
        if name is not None and not isinstance(name, str):
            raise HTTPException(400, "The request's `operationName` must be a string or null.")
        return parsed

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        accept = request.headers.get("accept", "")
        sub_response.media_type = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else JSON
        return sub_response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data = process_result(result)
        if isinstance(result, PreExecutionError):
            # A request error (parse, validation): the spec says the data entry is absent.
            data.pop("data", None)  # type: ignore[misc]
        return data

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or JSON
        response.headers["content-type"] = media_type
        retry_after = _refused_for(response_data)
        shed = _shed_for(response_data)
        if _replayed(response_data):
            # The stored answer of a mutation that ran: 200 whatever it holds. An error it
            # ended with (even OVERLOADED after its first write) is final, not to be retried.
            response.headers["idempotent-replayed"] = "true"
        elif retry_after is not None:
            # The whole operation was refused by the client's query budget: HTTP 429.
            response.status_code = 429
            response.headers["retry-after"] = str(retry_after)
        elif shed is not None:
            # The process ran out of database connections: 503, retry shortly.
            response.status_code = 503
            response.headers["retry-after"] = str(shed)
        elif (keyed := _key_refused(response_data)) is not None:
            response.status_code, retry = keyed
            if retry is not None:
                response.headers["retry-after"] = str(retry)
        elif (
            media_type == GRAPHQL_RESPONSE
            and isinstance(response_data, dict)
            and "data" not in response_data
            and not sub_response.status_code
        ):
            response.status_code = 400
        return response


def _replayed(response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse]) -> bool:
    return isinstance(response_data, dict) and bool(
        (response_data.get("extensions") or {}).get(REPLAY_MARKER)
    )


# The IETF draft's statuses: 409 for a key whose first request has no answer yet, 422 for a
# key reused with another request, 400 for a malformed key.
KEY_STATUS = {KEY_IN_USE: 409, KEY_REUSED: 422, KEY_INVALID: 400}


def _unanswered(
    response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
) -> list[dict[str, Any]]:
    """The errors' extensions of an operation that answered nothing (no data at all, or
    only nulls); none when it answered something."""
    if not isinstance(response_data, dict):
        return []
    data = response_data.get("data")
    if isinstance(data, dict) and any(value is not None for value in data.values()):
        return []
    errors: list[dict[str, Any]] = response_data.get("errors") or []  # type: ignore[assignment]
    return [error.get("extensions") or {} for error in errors]


def _key_refused(
    response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
) -> tuple[int, int | None] | None:
    """The status (and seconds to wait) of a mutation refused for its idempotency key (no
    data at all, or only nulls), else None."""
    for extensions in _unanswered(response_data):
        status = KEY_STATUS.get(str(extensions.get("code")))
        if status is not None:
            retry = extensions.get("retryAfter")
            return status, retry if isinstance(retry, int) else None
    return None


def _shed_for(response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse]) -> int | None:
    """Seconds to wait when an operation answered nothing because the service is overloaded
    or a dependency is down (`OVERLOADED`, `SERVICE_UNAVAILABLE`: no data at all, or only
    nulls), else None."""
    for extensions in _unanswered(response_data):
        if extensions.get("code") in (OVERLOADED, SERVICE_UNAVAILABLE):
            retry = extensions.get("retryAfter")
            return retry if isinstance(retry, int) else 1
    return None


def _refused_for(response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse]) -> int | None:
    """Seconds to wait when a request error (no `data`) is RATE_LIMITED, else None."""
    if not isinstance(response_data, dict) or "data" in response_data:
        return None
    errors: list[dict[str, Any]] = response_data.get("errors") or []  # type: ignore[assignment]
    waits = [
        extensions.get("retryAfter")
        for extensions in (error.get("extensions") or {} for error in errors)
        if extensions.get("code") == "RATE_LIMITED"
    ]
    return max((w for w in waits if isinstance(w, int)), default=None)
