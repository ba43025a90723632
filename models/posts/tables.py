"""Posts, their edit history and likes. Counters are kept on the row, updated in the same
transaction as the change, so a page of posts needs no counting queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, utcnow

PUBLIC = "PUBLIC"
FOLLOWERS = "FOLLOWERS"
VISIBILITIES = (PUBLIC, FOLLOWERS)

_LIVE_PUBLIC = "visibility = 'PUBLIC' AND deleted_at IS NULL AND reply_to_id IS NULL"


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        Index(None, "author_id", "id"),
        Index(None, "thread_root_id", "id"),
        Index(
            "ix_posts_public_feed",
            "id",
            postgresql_where=text(_LIVE_PUBLIC),
            sqlite_where=text(_LIVE_PUBLIC),
        ),
        # Replies to a post: `replyCount`'s visible count and the reply notifications.
        Index(
            "ix_posts_replies",
            "reply_to_id",
            postgresql_where=text("reply_to_id IS NOT NULL"),
            sqlite_where=text("reply_to_id IS NOT NULL"),
        ),
        Index(
            "uq_posts_one_repost",
            "author_id",
            "repost_of_id",
            unique=True,
            postgresql_where=text("repost_of_id IS NOT NULL AND deleted_at IS NULL"),
            sqlite_where=text("repost_of_id IS NOT NULL AND deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    author_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default=PUBLIC)
    reply_to_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("posts.id"), default=None)
    thread_root_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("posts.id"), default=None)
    repost_of_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("posts.id"), default=None)
    like_count: Mapped[int] = mapped_column(default=0)
    reply_count: Mapped[int] = mapped_column(default=0)
    repost_count: Mapped[int] = mapped_column(default=0)
    # Moderation: a hidden post is seen by its author only; a sensitive one is blurred.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    sensitive: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class PostEdit(Base):
    """One earlier version of a post's body, kept when the post is edited."""

    __tablename__ = "post_edits"
    __table_args__ = (Index(None, "post_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"))
    editor_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    previous_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Like(Base):
    __tablename__ = "likes"
    __table_args__ = (UniqueConstraint("account_id", "post_id"), Index(None, "post_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
