"""Recording events in the caller's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models.events.tables import Event

POST_CREATED = "post.created"
POST_UPDATED = "post.updated"
POST_DELETED = "post.deleted"
ACCOUNT_FOLLOWED = "account.followed"
ACCOUNT_UNFOLLOWED = "account.unfollowed"
ACCOUNT_BLOCKED = "account.blocked"
ACCOUNT_UNBLOCKED = "account.unblocked"
ACCOUNT_MUTED = "account.muted"
ACCOUNT_UNMUTED = "account.unmuted"
SESSIONS_REVOKED = "sessions.revoked"
# Back-office events: delivered to integrations (outbound webhooks), not to live feeds.
ACCOUNT_CREATED = "account.created"
POST_REPORTED = "post.reported"
ACCOUNT_REPORTED = "account.reported"
ACCOUNT_SUSPENDED = "account.suspended"
STRIKE_ISSUED = "strike.issued"


def record_event(session: AsyncSession, *, type: str, payload: dict[str, object]) -> Event:
    """Add an outbox event to the session; it commits or rolls back with the change."""
    event = Event(type=type, payload=payload)
    session.add(event)
    return event
