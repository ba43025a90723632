"""Jobs carry the request id that caused them (a taskiq message label); the worker binds it
into the log context, opens a span and records the run's duration and outcome."""

from __future__ import annotations

import time
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from telemetry import logs, metrics, tracing

REQUEST_ID_LABEL = "request_id"
log = structlog.get_logger("chirp.jobs")


class JobTelemetry(TaskiqMiddleware):
    """Log context, span and metrics around each job run, on the side that runs it."""

    def __init__(self) -> None:
        super().__init__()
        # Per running job: (start, span, log-context tokens, trace-context token).
        self._running: dict[str, tuple[float, Any, Any, Any]] = {}

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        tokens = logs.bind(
            request_id=message.labels.get(REQUEST_ID_LABEL, "-"),
            job=message.task_name,
            job_id=message.task_id,
        )
        span = attach = None
        if tracing.enabled():
            span = tracing.tracer.start_span(f"job {message.task_name}", kind=SpanKind.CONSUMER)
            attach = otel_context.attach(trace.set_span_in_context(span))
        self._running[message.task_id] = (time.perf_counter(), span, tokens, attach)
        return message

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        started, span, tokens, attach = self._running.pop(
            message.task_id, (time.perf_counter(), None, None, None)
        )
        elapsed = time.perf_counter() - started
        outcome = metrics.FAILED if result.is_err else metrics.SUCCEEDED
        metrics.JOBS.labels(message.task_name, outcome).inc()
        metrics.JOB_DURATION.labels(message.task_name).observe(elapsed)
        (log.warning if result.is_err else log.info)(
            "job",
            outcome=outcome,
            duration_ms=round(elapsed * 1000, 2),
            error=None if result.error is None else type(result.error).__name__,
        )
        if span is not None:
            if result.is_err:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
            otel_context.detach(attach)
        if tokens is not None:
            logs.unbind(tokens)
