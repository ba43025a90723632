"""SQL timing from SQLAlchemy's cursor events on the engine: a histogram per statement kind,
the running tally of the operation in hand, and a span per statement when tracing is on.

Chosen over opentelemetry-instrumentation-sqlalchemy (which hooks the same events) so one
pair of hooks feeds metrics, cost statistics and spans. SQLAlchemy runs the driver call in
a greenlet that shares the caller's context, so context variables reach these hooks."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import Engine, event

from telemetry import costs, metrics, tracing

_KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "BEGIN", "COMMIT", "ROLLBACK")
_STARTED = "_chirp_started"
_SPAN = "_chirp_span"


def _kind(statement: str) -> str:
    head = statement.lstrip()[:8].upper()
    for kind in _KINDS:
        if head.startswith(kind):
            return kind
    return "OTHER"


def instrument_engine(engine: Engine) -> None:
    """Attach the hooks to a (sync) engine: `async_engine.sync_engine`."""
    histograms = {kind: metrics.DB_QUERY_DURATION.labels(kind) for kind in (*_KINDS, "OTHER")}
    system = engine.dialect.name

    @event.listens_for(engine, "before_cursor_execute")
    def _before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if context is None:
            return
        if tracing.enabled():
            span = tracing.tracer.start_span(
                f"db {_kind(statement)}",
                kind=SpanKind.CLIENT,
                # The statement text carries no values: they are bound parameters.
                attributes={"db.system": system, "db.statement": statement[:2000]},
            )
            setattr(context, _SPAN, span)
        setattr(context, _STARTED, time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        started = getattr(context, _STARTED, None)
        if started is None:
            return
        elapsed = time.perf_counter() - started
        histograms[_kind(statement)].observe(elapsed)
        costs.add_statement(elapsed)
        span = getattr(context, _SPAN, None)
        if span is not None:
            span.end()

    @event.listens_for(engine, "handle_error")
    def _error(exception_context: Any) -> None:
        context = exception_context.execution_context
        span = getattr(context, _SPAN, None) if context is not None else None
        if span is not None:
            span.set_status(
                Status(StatusCode.ERROR, type(exception_context.original_exception).__name__)
            )
            span.end()
