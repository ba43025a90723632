"""The durable event log. `seq` is assigned by the dispatcher in publish order, so a client
that resumes from the last `seq` it saw misses nothing even when transactions commit out of
id order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, utcnow


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index(
            "ix_events_unpublished",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
        Index(
            "ix_events_unprocessed",
            "seq",
            postgresql_where=text("seq IS NOT NULL AND processed_at IS NULL"),
            sqlite_where=text("seq IS NOT NULL AND processed_at IS NULL"),
        ),
        # Retention finds old rows by it (migration 0014).
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    seq: Mapped[int | None] = mapped_column(BigId, unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The request that caused the event, carried into its jobs' logs (set by the app layer).
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
