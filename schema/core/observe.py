"""Per GraphQL operation: a span, the operation metrics, its SQL cost, the slow-operation log
and, on a WebSocket, its access line. No per-field work: a hot list costs nothing extra.

A subscription keeps this hook open for its whole life, so what it holds stays small:
a start time, a tally of two numbers, and (only when tracing) a span."""

from __future__ import annotations

import time
from contextlib import nullcontext
from types import SimpleNamespace
from typing import Any

import structlog
from graphql import GraphQLError
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from starlette.websockets import WebSocket

from telemetry import costs, metrics, tracing
from telemetry.costs import COSTS, OperationTally

log = structlog.get_logger("chirp.graphql")

SERVER_ERROR = "INTERNAL_SERVER_ERROR"
GRAPHQL_SUMMARY = "graphql"  # the request-state key the access line reads (app/observe.py)


class OperationWatch:
    """One operation's telemetry, opened and closed by `OperationScope`'s hook (not an
    extension of its own: each extension's hook costs every idle subscription memory)."""

    __slots__ = ("span", "started", "tally", "tally_token", "trace_token")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.tally = OperationTally()
        self.tally_token = costs.current_tally.set(self.tally)
        self.span: Any = None
        self.trace_token: Any = None
        if tracing.enabled():
            self.span = tracing.tracer.start_span("graphql operation")
            self.trace_token = otel_context.attach(trace.set_span_in_context(self.span))

    def finish(self, execution: Any, slow_seconds: float) -> None:
        """Record the finished operation: metrics, costs, span, slow and WebSocket lines."""
        elapsed = time.perf_counter() - self.started
        _reset(self.tally_token, self.trace_token)
        _record(execution, elapsed, self.tally, self.span, slow_seconds)


class CompiledWatch:
    """`OperationWatch` for an operation answered by its plan (`app/compiled.py`): the same
    metrics, costs, span, slow-operation log and access-line summary."""

    __slots__ = ("watch",)

    def __init__(self) -> None:
        self.watch: OperationWatch | None = OperationWatch()

    def cancel(self) -> None:
        """The plan stepped aside: the general path records the operation itself."""
        if self.watch is not None:
            _reset(self.watch.tally_token, self.watch.trace_token)
            if self.watch.span is not None:
                self.watch.span.end()
            self.watch = None

    def finish(
        self, plan: Any, state: dict[str, Any], errors: list[GraphQLError], slow_seconds: float
    ) -> None:
        if self.watch is None:
            return
        watch, self.watch = self.watch, None
        execution = SimpleNamespace(
            result=SimpleNamespace(errors=errors),
            pre_execution_errors=None,
            graphql_document=plan.document,
            operation_name=plan.operation_name,
            operation_type=SimpleNamespace(value="query"),
            context=SimpleNamespace(request=SimpleNamespace(scope={"state": state})),
        )
        watch.finish(execution, slow_seconds)


def _record(
    execution: Any, elapsed: float, tally: OperationTally, span: Any, slow_seconds: float
) -> None:
    errors, valid = _errors(execution)
    codes = sorted({_code(error, valid, execution.graphql_document is not None)
                    for error in errors})  # fmt: skip
    name = execution.operation_name
    label = metrics.operation_label(name) if valid else metrics.operation_label.known(name)
    kind = _operation_type(execution)
    outcome = "server_error" if SERVER_ERROR in codes else "client_error" if codes else "ok"
    metrics.GRAPHQL_OPERATIONS.labels(label, kind, outcome).inc()
    for code in codes:
        metrics.GRAPHQL_ERRORS.labels(metrics.error_code_label(code)).inc()
    subscription = kind == "subscription"
    if not subscription:
        metrics.GRAPHQL_DURATION.labels(label, kind).observe(elapsed)
        COSTS.record(label, kind, seconds=elapsed, tally=tally, failed=bool(codes))
    summary = {
        "operation": label,
        "operation_type": kind,
        "errors": codes,
        "statements": tally.statements,
        "sql_ms": round(tally.sql_seconds * 1000, 2),
    }
    if span is not None:
        span.update_name(f"graphql {kind} {label}")
        span.set_attribute("graphql.operation.name", label)
        span.set_attribute("graphql.operation.type", kind)
        if outcome == "server_error":
            span.set_status(Status(StatusCode.ERROR))
    context = execution.context
    request = getattr(context, "request", None)
    with trace.use_span(span, end_on_exit=True) if span is not None else nullcontext():
        if elapsed >= slow_seconds and not subscription:
            metrics.SLOW_OPERATIONS.inc()
            log.warning("slow operation", duration_ms=round(elapsed * 1000, 2), **summary)
        if isinstance(request, WebSocket):
            viewer = getattr(context, "viewer", None)
            log.info(
                "websocket operation",
                request_id=getattr(context, "request_id", "-"),
                duration_ms=round(elapsed * 1000, 2),
                account_id=None if viewer is None else viewer.id,
                **summary,
            )
        elif request is not None:
            request.scope.setdefault("state", {})[GRAPHQL_SUMMARY] = summary


def _reset(tally_token: Any, trace_token: Any) -> None:
    try:
        costs.current_tally.reset(tally_token)
        if trace_token is not None:
            otel_context.detach(trace_token)
    except ValueError:
        # A hook closed in another context (a cancelled subscription): nothing to restore.
        pass


def _errors(execution: Any) -> tuple[list[GraphQLError], bool]:
    """The operation's top-level errors, and whether the document parsed and validated.
    Execution errors carry a path; parse and validation errors do not."""
    result = execution.result
    errors = list(getattr(result, "errors", None) or execution.pre_execution_errors or [])
    valid = execution.graphql_document is not None and all(e.path is not None for e in errors)
    return errors, valid


def _code(error: GraphQLError, valid: bool, parsed: bool) -> str:
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    if not parsed:
        return "GRAPHQL_PARSE_FAILED"
    if error.path is None:
        return "GRAPHQL_VALIDATION_FAILED"
    return "UNCODED"


def _operation_type(execution: Any) -> str:
    try:
        return str(execution.operation_type.value)
    except Exception:
        return "unknown"
