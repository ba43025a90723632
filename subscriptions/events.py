"""Live events as subscribers see them, and reading them back from the durable log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.events.tables import Event


@dataclass(frozen=True, slots=True)
class LiveEvent:
    seq: int
    type: str
    payload: dict[str, Any]
    # Only on events read from the log (the dispatcher's jobs); not sent through pub/sub.
    request_id: str | None = None

    def encode(self) -> str:
        return json.dumps({"seq": self.seq, "type": self.type, "payload": self.payload})

    @classmethod
    def decode(cls, message: str) -> LiveEvent:
        data = json.loads(message)
        return cls(seq=int(data["seq"]), type=str(data["type"]), payload=dict(data["payload"]))

    @classmethod
    def from_row(cls, row: Event) -> LiveEvent:
        assert row.seq is not None
        return cls(seq=row.seq, type=row.type, payload=dict(row.payload), request_id=row.request_id)


class EventLog:
    """Reads published events back in `seq` order, for gap filling and client catch-up."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def after(self, seq: int, *, limit: int, until: int | None = None) -> list[LiveEvent]:
        stmt = select(Event).where(Event.seq > seq)
        if until is not None:
            stmt = stmt.where(Event.seq <= until)
        async with self._sessionmaker() as session:
            rows = await session.scalars(stmt.order_by(Event.seq).limit(limit))
            return [LiveEvent.from_row(row) for row in rows]

    async def last_seq(self) -> int:
        async with self._sessionmaker() as session:
            return int(await session.scalar(select(func.max(Event.seq))) or 0)
