"""Catch-up reads from the log only the event types a stream declares (and the revoking
ones), so a stream's `accepts` must want no other type, and `revokes` no type outside
`REVOKING_TYPES`: otherwise an event would reach a live subscriber and be skipped by one
resuming. Each test below offers every event type with a payload that would match on its
other fields."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from models.events import actions as events
from models.posts.tables import PUBLIC
from subscriptions import live
from subscriptions.events import LiveEvent

VIEWER, FOLLOWEE, POST, SESSION = 1, 2, 5, 7
EVERY_TYPE = sorted(
    value
    for name, value in vars(events).items()
    if name.isupper() and isinstance(value, str) and "." in value
)
MATCHING_PAYLOAD = {
    "post_id": POST,
    "author_id": FOLLOWEE,
    "visibility": PUBLIC,
    "reply_to_id": None,
    "account_id": VIEWER,
    "kind": events.CredentialChange.ROLE.value,
    "session_ids": [SESSION],
}


def _graph() -> live.ViewerGraph:
    return live.ViewerGraph(VIEWER, following={FOLLOWEE})


STREAMS: dict[str, tuple[Callable[[LiveEvent], bool], frozenset[str]]] = {
    "homeTimeline": (_graph().home, live.TIMELINE_TYPES),
    "publicFeed": (_graph().public, live.TIMELINE_TYPES),
    "postUpdated": (live.post_changes(POST), live.POST_CHANGE_TYPES),
    "revokes": (live.revokes(VIEWER, SESSION), live.REVOKING_TYPES),
}


def test_every_event_type_is_offered() -> None:
    assert events.POST_CREATED in EVERY_TYPE
    assert events.SESSIONS_REVOKED in EVERY_TYPE
    assert len(EVERY_TYPE) >= 15


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_a_stream_wants_exactly_the_types_it_declares(name: str) -> None:
    accepts, types = STREAMS[name]

    wanted = {
        type
        for type in EVERY_TYPE
        if accepts(LiveEvent(seq=1, type=type, payload=dict(MATCHING_PAYLOAD)))
    }

    assert wanted == set(types)


def test_an_ended_session_is_a_revoking_type_too() -> None:
    revoked = live.revokes(VIEWER, SESSION)
    ended = {"account_id": VIEWER, "session_ids": [SESSION]}

    assert revoked(LiveEvent(seq=1, type=events.SESSIONS_REVOKED, payload=ended))
    assert events.SESSIONS_REVOKED in live.REVOKING_TYPES


def test_a_home_timeline_asks_sql_for_its_authors_up_to_a_bound() -> None:
    few = live.ViewerGraph(VIEWER, following={FOLLOWEE})
    many = live.ViewerGraph(VIEWER, following=set(range(100, 100 + live.KEYS_IN_SQL)))

    assert few.home_authors() == ("author_id", {VIEWER, FOLLOWEE})
    assert many.home_authors() is None  # then by type only: `home` has the last word
    assert live.post_changes(POST).keys() == ("post_id", {POST})
