"""What each GraphQL operation costs: statements and SQL time of the operation in hand (a
context variable the database hooks add to), and per-process totals by operation name
for admins (`operationCosts`)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


class OperationTally:
    """The running cost of one operation; small, because a subscription holds one."""

    __slots__ = ("sql_seconds", "statements")

    def __init__(self) -> None:
        self.statements = 0
        self.sql_seconds = 0.0


current_tally: ContextVar[OperationTally | None] = ContextVar("chirp_tally", default=None)


def add_statement(seconds: float) -> None:
    tally = current_tally.get()
    if tally is not None:
        tally.statements += 1
        tally.sql_seconds += seconds


@dataclass
class OperationCost:
    """Totals for one operation name in this process since it started."""

    name: str
    type: str
    count: int = 0
    errors: int = 0
    total_seconds: float = 0.0
    max_seconds: float = 0.0
    statements: int = 0
    sql_seconds: float = 0.0


class CostTable:
    """Totals keyed by (bounded operation name, type): at most a few hundred entries."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], OperationCost] = {}

    def record(
        self, name: str, type: str, *, seconds: float, tally: OperationTally, failed: bool
    ) -> None:
        row = self._rows.get((name, type))
        if row is None:
            row = self._rows[(name, type)] = OperationCost(name, type)
        row.count += 1
        row.errors += failed
        row.total_seconds += seconds
        row.max_seconds = max(row.max_seconds, seconds)
        row.statements += tally.statements
        row.sql_seconds += tally.sql_seconds

    def top(self, limit: int) -> list[OperationCost]:
        """The operations that took the most time in total, most first."""
        return sorted(self._rows.values(), key=lambda r: r.total_seconds, reverse=True)[:limit]


COSTS = CostTable()
