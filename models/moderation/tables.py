"""Reports, the cases they gather into, staff notes, strikes and appeals. The state an action
puts in force lives on the post or account row (`hidden_at`, `sensitive`, `limited_at`,
`suspended_at`/`suspended_until`); a strike is the record of that action and of its lift."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, utcnow
from models.moderation.kinds import AppealStatus, CaseStatus, Priority

_OPEN = "status = 'OPEN'"


class ModerationCase(Base):
    """Every report of one target while its case is open; one open case per target."""

    __tablename__ = "moderation_cases"
    __table_args__ = (
        Index(
            "uq_moderation_cases_open_target",
            "target_type",
            "target_id",
            unique=True,
            postgresql_where=text(_OPEN),
            sqlite_where=text(_OPEN),
        ),
        Index(None, "status", "priority", "id"),
        Index(None, "assignee_id", "status"),
        Index(None, "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    target_type: Mapped[str] = mapped_column(String(16))
    # The post's id for a POST case, the account's for an ACCOUNT case.
    target_id: Mapped[int] = mapped_column(BigId)
    # The account concerned: the one reported, or the reported post's author.
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), default=None
    )
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN.value)
    priority: Mapped[int] = mapped_column(default=int(Priority.NORMAL))
    report_count: Mapped[int] = mapped_column(default=0)
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Report(Base):
    """One account's report in a case; reporting again while the case is open changes
    nothing."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("case_id", "reporter_id"), Index(None, "case_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("moderation_cases.id", ondelete="CASCADE")
    )
    reporter_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseNote(Base):
    """A staff note on a case (assignments with a note leave one too)."""

    __tablename__ = "moderation_case_notes"
    __table_args__ = (Index(None, "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("moderation_cases.id", ondelete="CASCADE")
    )
    author_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Strike(Base):
    """One moderation action against an account or one of its posts, as its owner sees it."""

    __tablename__ = "strikes"
    __table_args__ = (Index(None, "account_id", "id"), Index(None, "post_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), default=None
    )
    case_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("moderation_cases.id", ondelete="SET NULL"), default=None
    )
    action: Mapped[str] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(32), default=None)
    reason: Mapped[str] = mapped_column(Text)  # for staff and the audit log
    public_reason: Mapped[str] = mapped_column(Text, default="")  # for the owner
    issued_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lift_cause: Mapped[str | None] = mapped_column(String(16), default=None)
    lifted_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Appeal(Base):
    """The owner's one appeal of a strike, and the staff decision on it."""

    __tablename__ = "appeals"
    __table_args__ = (Index(None, "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    strike_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("strikes.id", ondelete="CASCADE"), unique=True
    )
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    note: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=AppealStatus.PENDING.value)
    decision_message: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    decided_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
