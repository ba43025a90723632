"""OpenTelemetry traces: the exporter is chosen by configuration (otlp, console or none).

With `none` no SDK provider is installed: the API's tracer hands out non-recording spans,
and the hot paths (the database hooks) check `enabled()` and skip spans altogether."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

EXPORTERS = ("none", "console", "otlp")

tracer = trace.get_tracer("chirp")
_provider: TracerProvider | None = None


def enabled() -> bool:
    return _provider is not None


def configure_tracing(
    exporter: str, *, service: str, version: str, sample_ratio: float = 1.0
) -> None:
    """Install the process's tracer provider (once). The OTLP exporter reads its endpoint
    and headers from the standard OTEL_EXPORTER_OTLP_* variables."""
    global _provider
    if exporter == "none" or _provider is not None:
        return
    processor: SpanProcessor
    if exporter == "console":
        processor = SimpleSpanProcessor(ConsoleSpanExporter())
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter())
    else:
        raise ValueError(f"unknown trace exporter {exporter!r}")
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.version": version}),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _provider = provider


def shutdown_tracing() -> None:
    """Flush spans still batched (at process exit)."""
    if _provider is not None:
        _provider.shutdown()
