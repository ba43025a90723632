"""The durable event log. `seq` is assigned by the dispatcher in publish order, so a client
that resumes from the last `seq` it saw misses nothing even when transactions commit out of
id order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text, text
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


class QueuedJob(Base):
    """The durable record of one background job an event called for (the job ledger).

    The dispatcher writes it in the transaction that marks the event processed, then
    enqueues it; the queue (Redis or in-process) is only the fast path. Whoever runs the job
    takes it first (`running_until`, a lease), marks it done after it succeeds, or records
    the failure and when to try again; the job sweep re-enqueues what is due and not done —
    a job lost with Redis, one whose worker died, one whose retry wait is over. After
    `max_attempts` starts it is parked for an operator (`chirp jobs`)."""

    __tablename__ = "queued_jobs"
    __table_args__ = (
        Index(
            "ix_queued_jobs_due",
            "due_at",
            postgresql_where=text("done_at IS NULL AND parked_at IS NULL"),
            sqlite_where=text("done_at IS NULL AND parked_at IS NULL"),
        ),
        Index(
            "ix_queued_jobs_parked",
            "parked_at",
            postgresql_where=text("parked_at IS NOT NULL"),
            sqlite_where=text("parked_at IS NOT NULL"),
        ),
        Index("ix_queued_jobs_done_at", "done_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    kwargs: Mapped[dict[str, object]] = mapped_column(JSON)
    # The event that called for it (no foreign key: the outbox is pruned on its own clock).
    event_seq: Mapped[int | None] = mapped_column(BigId, default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the sweep should enqueue it (again) if it is not done by then.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # How many times a run started (a worker killed mid-run counts too).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # How many times the job sweep enqueued it again (each time it waits twice as long).
    requeues: Mapped[int] = mapped_column(Integer, default=0)
    # A run holds the job until then (a failed one until its backoff ends); no other run
    # may take it before.
    running_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
