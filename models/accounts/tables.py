"""Accounts and their log-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, utcnow

_SUSPENDED = "suspended_at IS NOT NULL"


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        Index(
            "ix_accounts_suspended_until",
            "suspended_until",
            postgresql_where=text(_SUSPENDED),
            sqlite_where=text(_SUSPENDED),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handle: Mapped[str] = mapped_column(String(30))
    handle_key: Mapped[str] = mapped_column(String(30), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(50), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    avatar_url: Mapped[str | None] = mapped_column(String(500), default=None)
    followers_count: Mapped[int] = mapped_column(default=0)
    following_count: Mapped[int] = mapped_column(default=0)
    posts_count: Mapped[int] = mapped_column(default=0)
    # Moderation (models/moderation): a limited account's posts reach only its followers; a
    # suspended one cannot log in until `suspended_until` (never, when null).
    limited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LoginSession(Base):
    """A log-in session; only the SHA-256 of its token is stored."""

    __tablename__ = "login_sessions"
    # `ip` serves support's search for the accounts whose sessions used an address.
    __table_args__ = (Index(None, "account_id", "revoked_at"), Index(None, "ip"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Set when the session proved a second factor (TOTP or a recovery code) at log-in or
    # enrolment; staff roles only count in sessions that did.
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ProfileEdit(Base):
    """One change to a profile: the fields it changed, before and after, and who made it."""

    __tablename__ = "profile_edits"
    __table_args__ = (Index(None, "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    editor_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    before: Mapped[dict[str, object]] = mapped_column(JSON)
    after: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FailedLogin(Base):
    """A refused log-in: wrong password, unknown login or a missing or wrong second factor.
    Only staff see these (support spots hijack attempts); `account_id` is null when the
    login named no account. What was typed is not kept: it may be a mistyped password."""

    __tablename__ = "failed_logins"
    __table_args__ = (
        Index(None, "account_id", "created_at"),
        Index(None, "ip"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="CASCADE"), default=None
    )
    failure: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
