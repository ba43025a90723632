"""Recording events in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

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
# What an account may do changed: every open subscription and every cache of roles or
# sessions obeys it (see `record_credentials_changed`).
CREDENTIALS_CHANGED = "credentials.changed"
# Written before `credentials.changed` replaced it; still read back from the log on catch-up.
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


class CredentialChange(StrEnum):
    """The `kind` of a `credentials.changed` event. A new way of changing what an account may
    do (a password change, an API token revoked, an account deleted) records the same event
    with a kind of its own: subscriptions close the account's connections for any kind but
    SESSION, which closes only the sessions it names."""

    SESSION = "session"
    ROLE = "role"
    SECOND_FACTOR = "second_factor"
    SUSPENSION = "suspension"


def record_credentials_changed(
    session: AsyncSession,
    *,
    account_id: int,
    kind: CredentialChange,
    session_ids: Iterable[int] = (),
) -> Event:
    """Record, in the transaction making the change, that what `account_id` may do changed;
    `session_ids` names the sessions a SESSION change ended."""
    payload: dict[str, object] = {"account_id": account_id, "kind": kind.value}
    if kind is CredentialChange.SESSION:
        payload["session_ids"] = sorted(session_ids)
    return record_event(session, type=CREDENTIALS_CHANGED, payload=payload)
