"""Idempotent mutations (docs/api.md, "Retrying mutations safely").

A mutation sent with a key (the `Idempotency-Key` HTTP header; on a WebSocket, the
`subscribe` payload's `extensions.idempotencyKey`) is looked up after validation and
admission (`IdempotentMutations.on_validate`, a hook that closes at once, so subscriptions
hold nothing of it):
- a key never seen (or expired) lets the operation run, and its first write transaction
  takes the key (`models.transactions.first_write`);
- a key answered for the same request replays the stored answer, marked
  `extensions.idempotentReplay`, and runs nothing;
- a key held without an answer is IDEMPOTENCY_KEY_IN_USE; a key used for another request is
  IDEMPOTENCY_KEY_REUSED; a malformed key is IDEMPOTENCY_KEY_INVALID. Each is a request
  error: nothing runs.
After the operation, `idempotent_answers.settle` stores its answer on the key's row, if a
write took the key: called by `OperationScope` once errors are masked (HTTP), or before the
answer is sent (`on_stream_result`, on a WebSocket). A key on a query or subscription is
ignored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, cast

from graphql import GraphQLError, GraphQLFormattedError
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from models import transactions
from models.base import utcnow
from models.idempotency import actions as idempotency
from models.idempotency.errors import KeyInUse, KeyInvalid, KeyRefused, KeyReused
from resolvers.context import Context
from schema.core.extensions import failure
from schema.core.idempotent_answers import Pending, hold, settle
from telemetry import metrics

HEADER = "idempotency-key"
EXTENSION = "idempotencyKey"
REPLAY_MARKER = "idempotentReplay"

ABSENT = object()
# The key of the operation a WebSocket `subscribe` message starts (app/sockets.py sets it as
# the operation's task is made, so the task copies it).
SOCKET_KEY: ContextVar[object] = ContextVar("chirp_socket_idempotency_key", default=ABSENT)


class StoredError(GraphQLError):
    """An error of a replayed answer, formatted exactly as it was the first time."""

    def __init__(self, stored: Mapping[str, Any]) -> None:
        super().__init__(str(stored.get("message", "")), extensions=stored.get("extensions"))
        self.stored = dict(stored)

    @property
    def formatted(self) -> GraphQLFormattedError:  # type: ignore[override]
        return cast(GraphQLFormattedError, self.stored)


def refusal(refused: KeyRefused) -> GraphQLError:
    return GraphQLError(str(refused), extensions=refused.extensions)


def requested_key(context: Context) -> object:
    """The key the client sent with this operation, or `ABSENT`."""
    if isinstance(context.request, WebSocket):
        return SOCKET_KEY.get()
    values = context.request.headers.getlist(HEADER)
    if not values:
        return ABSENT
    if len(values) > 1:
        raise KeyInvalid("send one Idempotency-Key header, not several")
    return values[0]


class IdempotentMutations(SchemaExtension):
    """Looks up a mutation's key before execution: replays, refuses or lets it run holding
    a claim on the key (see the module docstring)."""

    def __init__(self) -> None:
        self.replayed = False

    async def on_validate(self) -> AsyncIterator[None]:
        # Listed after Admission, so this runs once the document is validated and admitted
        # (strawberry decides whether to execute as the hooks close: before any `yield`).
        await self._decide()
        yield

    async def _decide(self) -> None:
        execution = self.execution_context
        context = execution.context
        if execution.pre_execution_errors or not isinstance(context, Context):
            return
        if execution.operation_type is not OperationType.MUTATION:
            return
        try:
            raw = requested_key(context)
            if raw is ABSENT:
                return
            key = idempotency.check_key(raw)
        except KeyInvalid as invalid:
            metrics.IDEMPOTENT_REQUESTS.labels("invalid").inc()
            execution.pre_execution_errors = [refusal(invalid)]
            return
        try:
            await self._look_up(execution, context, key)
        except KeyRefused as refused:
            metrics.IDEMPOTENT_REQUESTS.labels(
                "reused" if isinstance(refused, KeyReused) else "in_use"
            ).inc()
            execution.pre_execution_errors = [refusal(refused)]
        except Exception as exc:
            # Raised before MaskUnexpectedErrors is running: mask it here.
            execution.pre_execution_errors = [failure(context.request_id, exc, "idempotency")]

    async def _look_up(self, execution: ExecutionContext, context: Context, key: str) -> None:
        scope = idempotency.scope_of(account_id=context.viewer_id, client_ip=context.client_ip)
        fingerprint = idempotency.fingerprint_of(
            operation_name=execution.operation_name,
            document=execution.query or "",
            variables=execution.variables,
        )
        # A read session: on SQLite it does not queue behind writers. A key taken after this
        # look is caught by the unique constraint when this operation's first write takes it.
        async with context.read() as session:
            row = await idempotency.find_key(session, scope=scope, key=key)
        if row is None:
            retention = timedelta(hours=context.settings.idempotency_key_retention_hours)
            claim = idempotency.KeyClaim(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                operation_name=execution.operation_name,
                expires_at=utcnow() + retention,
            )
            hold(Pending(claim, transactions.take_first_write(claim)))
            metrics.IDEMPOTENT_REQUESTS.labels("first").inc()
            return
        if row.fingerprint != fingerprint:
            raise KeyReused()
        if row.answer is None:
            raise KeyInUse(row.created_at)
        answer = json.loads(row.answer)
        execution.result = ExecutionResult(
            data=answer.get("data"),
            errors=[StoredError(error) for error in answer.get("errors") or ()] or None,
        )
        self.replayed = True
        metrics.IDEMPOTENT_REQUESTS.labels("replayed").inc()

    async def on_stream_result(self, result: Any) -> AsyncIterator[None]:  # type: ignore[override]
        # On a WebSocket the answer is sent before the operation's hook closes: store it
        # first (listed after MaskUnexpectedErrors, this sees it masked), so that a retry
        # sent as soon as the answer arrives finds it. Over HTTP, OperationScope stores it.
        await settle(self.execution_context)
        yield

    def get_results(self) -> dict[str, Any]:
        return {REPLAY_MARKER: True} if self.replayed else {}
