"""Schema extensions: a context per operation, and masking of unexpected errors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from graphql import ASTValidationRule, GraphQLError
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.extensions import MaskErrors, SchemaExtension

from models.idempotency.errors import KeyRefused
from models.outages import overloaded, unavailable
from models.throttle import RateLimited
from resolvers.accounts import drop_dead_session
from resolvers.context import Context
from schema.core.idempotent_answers import settle
from schema.core.observe import OperationWatch
from subscriptions.live import CLOSE_SESSION_REVOKED

log = logging.getLogger("chirp.graphql")


class OperationScope(SchemaExtension):
    """Sets up each operation:
    - its own context copy and dataloaders, even when many operations share one WebSocket;
    - the token limit and the extra validation rules (depth, aliases, introspection), here
      rather than in strawberry's own limiter extensions because a subscription keeps every
      extension's hook open for its whole life, and idle subscriptions must stay small;
    - a fresh check of a WebSocket's session: one revoked while the socket sat idle runs
      nothing as its viewer and closes the socket;
    - its telemetry (`schema/core/observe.py`) and, for a mutation sent with an idempotency
      key, the storing of its answer (`schema/core/idempotent_answers.py`): listed first,
      this hook closes last and so sees the errors as masked."""

    def __init__(
        self,
        *,
        max_tokens: int,
        rules: tuple[type[ASTValidationRule], ...],
        slow_operation_ms: int = 500,
    ) -> None:
        self.max_tokens = max_tokens
        self.rules = rules
        self.slow_seconds = slow_operation_ms / 1000

    async def on_operation(self) -> AsyncIterator[None]:
        watch = OperationWatch()
        try:
            await self._set_up()
            yield
            await settle(self.execution_context)
        finally:
            watch.finish(self.execution_context, self.slow_seconds)

    async def _set_up(self) -> None:
        execution = self.execution_context
        execution.parse_options["max_tokens"] = self.max_tokens
        execution.validation_rules = execution.validation_rules + self.rules
        context = execution.context
        if isinstance(context, Context):
            scoped = context.for_operation()
            self.execution_context.context = scoped
            if isinstance(scoped.request, WebSocket) and await _session_dropped(scoped):
                context.viewer, context.session_id = None, None
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                    await scoped.request.close(code=CLOSE_SESSION_REVOKED, reason="Session revoked")


async def _session_dropped(context: Context) -> bool:
    try:
        return await drop_dead_session(context)
    except Exception as exc:
        # Raised before MaskUnexpectedErrors is running: mask it here.
        raise failure(context.request_id, exc, "session re-check") from exc


OVERLOADED = "OVERLOADED"
OVERLOADED_RETRY_SECONDS = 5


def overloaded_error(error: GraphQLError | None = None) -> GraphQLError:
    return GraphQLError(
        f"The service is overloaded; retry in {OVERLOADED_RETRY_SECONDS} seconds.",
        nodes=None if error is None else error.nodes,
        path=None if error is None else error.path,
        extensions={"code": OVERLOADED, "retryAfter": OVERLOADED_RETRY_SECONDS},
    )


SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
UNAVAILABLE_RETRY_SECONDS = 5


def unavailable_error(request_id: str, error: GraphQLError | None = None) -> GraphQLError:
    return GraphQLError(
        "A service Chirp depends on is not answering; retry in "
        f"{UNAVAILABLE_RETRY_SECONDS} seconds. Request id {request_id}.",
        nodes=None if error is None else error.nodes,
        path=None if error is None else error.path,
        extensions={
            "code": SERVICE_UNAVAILABLE,
            "requestId": request_id,
            "retryAfter": UNAVAILABLE_RETRY_SECONDS,
        },
    )


def failure(request_id: str, exc: BaseException, what: str) -> GraphQLError:
    """What the client sees of an unexpected exception outside the executor: OVERLOADED when
    the database pool ran dry, SERVICE_UNAVAILABLE when PostgreSQL or Redis does not
    answer, otherwise the masked internal error (logged in full)."""
    if overloaded(exc):
        log.warning("%s: database pool exhausted (request %s)", what, request_id)
        return overloaded_error()
    if unavailable(exc):
        log.warning("%s: a dependency is unavailable (request %s): %r", what, request_id, exc)
        return unavailable_error(request_id)
    log.error("%s failed (request %s)", what, request_id, exc_info=exc)
    return internal_error(request_id)


def internal_error(request_id: str, error: GraphQLError | None = None) -> GraphQLError:
    """What a client sees of an unexpected failure: a generic message and the request id
    to quote to support, in place of `error` (keeping its location and path)."""
    return GraphQLError(
        message=f"Internal error. Quote request id {request_id} to support.",
        nodes=None if error is None else error.nodes,
        source=None if error is None else error.source,
        positions=None if error is None else error.positions,
        path=None if error is None else error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


def _unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(
        original, GraphQLError | RateLimited | KeyRefused
    )


class MaskUnexpectedErrors(MaskErrors):
    """Expected failures keep their message and code; anything else becomes a generic
    message with the request id to quote to support, and is logged in full."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "unknown")
        if overloaded(error.original_error):
            log.warning("database pool exhausted (request %s)", request_id)
            return overloaded_error(error)
        if unavailable(error.original_error):
            log.warning(
                "a dependency is unavailable (request %s): %r", request_id, error.original_error
            )
            return unavailable_error(request_id, error)
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(str(p) for p in error.path or []),
            request_id,
            exc_info=error.original_error,
        )
        return internal_error(request_id, error)
