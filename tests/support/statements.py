"""Counting the SQL statements a request runs, and which of them ran inside its GraphQL
operation (while the operation's telemetry tally was open, `telemetry/costs.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from app.runtime import Services
from telemetry import costs


@dataclass
class Statements:
    every: list[str] = field(default_factory=list)
    in_operation: list[str] = field(default_factory=list)


_recording: ContextVar[Statements | None] = ContextVar("statements", default=None)


@contextmanager
def counting_statements(services: Services) -> Iterator[Statements]:
    """Statements issued by this task and the tasks it starts (an in-process ASGI request
    runs in the test's context), not by background work sharing the engine."""
    seen = Statements()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        target = _recording.get()
        if target is None:
            return
        target.every.append(statement)
        if costs.current_tally.get() is not None:
            target.in_operation.append(statement)

    event.listen(services.engine.sync_engine, "before_cursor_execute", record)
    token = _recording.set(seen)
    try:
        yield seen
    finally:
        _recording.reset(token)
        event.remove(services.engine.sync_engine, "before_cursor_execute", record)
