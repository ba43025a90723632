"""Structured logs (structlog): JSON lines in production, readable lines in development.

Every line, ours or a library's (uvicorn, SQLAlchemy, taskiq) through the standard `logging`
module, passes the same processors: the bound context (request id, operation, job), the
trace and span ids when tracing is on, and redaction of secrets and personal data."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor

REDACTED = "[redacted]"
# Libraries held at WARNING whatever LOG_LEVEL says: they log URLs or SQL parameters, or
# (alembic) two lines for every readiness probe's migration check.
QUIET_LIBRARIES = ("taskiq", "httpx", "httpcore", "aiosqlite", "alembic.runtime.migration")

# Keys whose values are secrets or personal data, whatever they hold.
_SECRET_KEY = re.compile(
    r"pass(word)?|token|secret|authori[sz]ation|cookie|api[-_]?key|totp|recovery|"
    r"(^|_)code$|^code|email|card|iban|cvc|cvv|pan$",
    re.IGNORECASE,
)
# Values that look like secrets or personal data wherever they appear.
_SECRET_VALUES = (
    re.compile(r"(?i)\bbearer\s+[^\s,;\"']+"),
    re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"),
    re.compile(r"\$argon2[a-z]*\$[^\s'\",)]+"),
    re.compile(r"\b(?:\d[ -]?){12,18}\d\b"),  # card-like numbers
    # Session tokens (43 url-safe characters) and similar keys; ids in hex do not match.
    re.compile(r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])"
               r"[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])"),
)  # fmt: skip
# Keys the logging machinery adds, never secrets; skipping them keeps the processor cheap.
_SAFE_KEYS = frozenset(
    {"timestamp", "level", "logger", "request_id", "trace_id", "span_id", "duration_ms"}
)


def _scrub_text(text: str) -> str:
    for pattern in _SECRET_VALUES:
        text = pattern.sub(REDACTED, text)
    return text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if _SECRET_KEY.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Mask values under secret-sounding keys and secret-looking values anywhere."""
    for key, value in event_dict.items():
        if key in _SAFE_KEYS or value is None or isinstance(value, int | float):
            continue
        if _SECRET_KEY.search(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(value)
    return event_dict


def add_trace_ids(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


def _drop_color_message(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    # uvicorn passes a coloured copy of its message in `extra`.
    event_dict.pop("color_message", None)
    return event_dict


def _json_line(event: Any, **_options: Any) -> str:
    """One JSON log line, with orjson (a request's access line is written on every request;
    the standard library's encoder cost several times as much). Values it cannot encode are
    written as their `str`."""
    return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def configure_logging(*, json: bool, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route structlog and the standard library's logging through one pipeline to `stream`."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        _drop_color_message,
    ]
    if json:
        shared.append(structlog.processors.format_exc_info)
    shared.append(redact)
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One access line per request comes from Chirp itself; uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # taskiq logs every execution at INFO; Chirp's own job line says more. httpx and
    # httpcore log each request's URL at INFO and DEBUG (a webhook URL may carry the
    # receiver's token); aiosqlite logs SQL parameters at DEBUG. Their warnings still show.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def bind(**values: Any) -> Mapping[str, Any]:
    """Bind values to every line logged in this context; returns tokens for `unbind`."""
    return structlog.contextvars.bind_contextvars(**values)


def unbind(tokens: Mapping[str, Any]) -> None:
    structlog.contextvars.reset_contextvars(**tokens)


def bound(name: str) -> Any:
    """The value bound under `name` in this context (None if none)."""
    values: MutableMapping[str, Any] = structlog.contextvars.get_contextvars()
    return values.get(name)
