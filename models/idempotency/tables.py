"""One row per idempotency key a client used: taken in the mutation's first write
transaction, answered (`answer`) once the operation has finished."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, utcnow


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        # A concurrent duplicate of a key fails on this, in its own first write.
        UniqueConstraint("scope", "key"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # `account:<id>` for a signed-in client, `ip:<address>` for an anonymous one.
    scope: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 (hex) of the canonical JSON of the operation name, document and variables.
    fingerprint: Mapped[str] = mapped_column(String(64))
    operation_name: Mapped[str | None] = mapped_column(String(200), default=None)
    # JSON of the response's `data` and `errors`; NULL while the operation runs (or if the
    # process died before storing it).
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
