"""The event types outbound webhooks deliver: the one list, with what each sends.

Event payloads are internal; a webhook sends only the fields listed here (an allow-list), so
a field added to an event later (an email, a reporter's id) never leaks by accident. Ids are
sent as the API's global ids."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from models.events import actions as events
from models.ids import global_id


@dataclass(frozen=True, slots=True)
class Deliverable:
    type: str
    description: str
    # payload key -> the API type whose global id is sent for it, or "" to send it as is
    fields: Mapping[str, str]


DELIVERABLE: dict[str, Deliverable] = {
    d.type: d
    for d in (
        Deliverable(
            events.ACCOUNT_CREATED,
            "An account signed up (`account.created`).",
            {"account_id": "Account", "handle": ""},
        ),
        Deliverable(
            events.POST_REPORTED,
            "Someone reported a post to the moderators (`post.reported`).",
            {"report_id": "", "post_id": "Post", "author_id": "Account", "category": ""},
        ),
        Deliverable(
            events.ACCOUNT_REPORTED,
            "Someone reported an account to the moderators (`account.reported`).",
            {"report_id": "", "account_id": "Account", "category": ""},
        ),
        Deliverable(
            events.ACCOUNT_SUSPENDED,
            "Moderators suspended an account (`account.suspended`).",
            {"account_id": "Account", "until": ""},
        ),
    )
}


def is_deliverable(event_type: str) -> bool:
    return event_type in DELIVERABLE


def webhook_data(event_type: str, payload: Mapping[str, object]) -> dict[str, object]:
    """The `data` object of a webhook: the allowed fields of the event's payload."""
    data: dict[str, object] = {}
    for key, id_type in DELIVERABLE[event_type].fields.items():
        if key not in payload:
            continue
        value = payload[key]
        data[key] = global_id(id_type, value) if id_type and isinstance(value, int) else value
    return data


def webhook_body(
    *, event_id: int, event_type: str, created_at: datetime, payload: Mapping[str, object]
) -> bytes:
    """The JSON body of a delivery; the same bytes on every attempt."""
    document = {
        "id": public_event_id(event_id),
        "type": event_type,
        "created_at": created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": webhook_data(event_type, payload),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


def public_event_id(event_id: int) -> str:
    return f"evt_{event_id}"


def public_delivery_id(delivery_id: int) -> str:
    return f"dlv_{delivery_id}"
