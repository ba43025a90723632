"""Timing, error counting and a client span for each kind of Redis call Chirp makes
(publish, enqueue, ping, queue depth): a handful of call sites, so they are wrapped where
they are made rather than by patching redis-py globally."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from opentelemetry.trace import SpanKind, Status, StatusCode

from telemetry import metrics, tracing


@contextlib.contextmanager
def redis_call(command: str) -> Iterator[None]:
    """Measure one Redis call: `chirp_redis_duration_seconds` on success,
    `chirp_redis_errors` on failure, and a `redis <command>` span when tracing is on."""
    span = None
    if tracing.enabled():
        span = tracing.tracer.start_span(
            f"redis {command}",
            kind=SpanKind.CLIENT,
            attributes={"db.system": "redis", "db.operation": command},
        )
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        metrics.REDIS_ERRORS.labels(command).inc()
        if span is not None:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR))
        raise
    else:
        metrics.REDIS_DURATION.labels(command).observe(time.perf_counter() - started)
    finally:
        if span is not None:
            span.end()
