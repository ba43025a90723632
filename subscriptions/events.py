"""Live events as subscribers see them, and reading them back from the durable log."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, case, cast, func, or_, select
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

    async def resume_point(self, seq: int) -> tuple[int, datetime | None]:
        """The log's last `seq`, and when the event numbered `seq` was recorded (None when
        the log holds no such event)."""
        async with self._sessionmaker() as session:
            last = int(await session.scalar(select(func.max(Event.seq))) or 0)
            recorded = await session.scalar(select(Event.created_at).where(Event.seq == seq))
            return last, recorded

    async def of_types(
        self,
        seq: int,
        *,
        types: Iterable[str],
        limit: int,
        key: tuple[str, Collection[int]] | None = None,
        also: Iterable[str] = (),
    ) -> list[LiveEvent]:
        """Events after `seq`, in `seq` order: those of `types` (with `key`, only those whose
        payload has the integer field `key[0]` equal to one of `key[1]`) and those of `also`.
        What a subscriber's catch-up can act on, without reading the rest of the platform's
        events; the unique index on `seq` serves the range."""
        wanted = Event.type.in_(list(types))
        if key is not None:
            field, values = key
            # The CASE first: PostgreSQL does not promise to test the type before the cast,
            # and another type's field of that name need not be a number.
            number = cast(Event.payload[field].as_string(), BigInteger)
            wanted = case((wanted, number)).in_(list(values))
        also = list(also)
        stmt = (
            select(Event.seq, Event.type, Event.payload)
            .where(Event.seq > seq, or_(wanted, Event.type.in_(also)) if also else wanted)
            .order_by(Event.seq)
            .limit(limit)
        )
        async with self._sessionmaker() as session:
            rows = await session.execute(stmt)
            # `seq > seq` leaves out unnumbered rows; the test only tells mypy.
            return [LiveEvent(seq=s, type=t, payload=dict(p)) for s, t, p in rows if s is not None]

    async def last_seq(self) -> int:
        async with self._sessionmaker() as session:
            return int(await session.scalar(select(func.max(Event.seq))) or 0)
