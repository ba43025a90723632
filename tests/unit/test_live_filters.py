"""Which live events reach which subscriber."""

from __future__ import annotations

import pytest

from subscriptions.events import LiveEvent
from subscriptions.live import ViewerGraph, closing, post_changes, revokes


def _created(
    seq: int, author: int, *, visibility: str = "PUBLIC", reply_to: int | None = None
) -> LiveEvent:
    payload = {
        "post_id": seq,
        "author_id": author,
        "visibility": visibility,
        "reply_to_id": reply_to,
    }
    return LiveEvent(seq=seq, type="post.created", payload=payload)


def test_home_takes_own_and_followees_posts_only() -> None:
    graph = ViewerGraph(viewer_id=1, following={2})

    assert graph.home(_created(1, author=1))
    assert graph.home(_created(2, author=2))
    assert not graph.home(_created(3, author=3))


def test_following_and_blocking_update_the_home_filter_live() -> None:
    graph = ViewerGraph(viewer_id=1)
    graph.observe(LiveEvent(1, "account.followed", {"follower_id": 1, "followee_id": 3}))
    assert graph.home(_created(2, author=3))

    graph.observe(LiveEvent(3, "account.blocked", {"blocker_id": 3, "blocked_id": 1}))
    assert not graph.home(_created(4, author=3))
    assert not graph.public(_created(5, author=3))


def test_someone_elses_follow_changes_nothing() -> None:
    graph = ViewerGraph(viewer_id=1)
    graph.observe(LiveEvent(1, "account.followed", {"follower_id": 9, "followee_id": 3}))

    assert not graph.home(_created(2, author=3))


def test_public_feed_skips_replies_followers_only_and_hidden_authors() -> None:
    graph = ViewerGraph(viewer_id=1, muted={4})

    assert graph.public(_created(1, author=2))
    assert not graph.public(_created(2, author=2, reply_to=1))
    assert not graph.public(_created(3, author=2, visibility="FOLLOWERS"))
    assert not graph.public(_created(4, author=4))


def test_post_changes_match_one_post() -> None:
    accepts = post_changes(7)

    assert accepts(LiveEvent(1, "post.updated", {"post_id": 7}))
    assert accepts(LiveEvent(2, "post.deleted", {"post_id": 7, "author_id": 1}))
    assert not accepts(LiveEvent(3, "post.updated", {"post_id": 8}))
    assert not accepts(_created(7, author=1))


def test_a_session_change_matches_only_the_sessions_it_names() -> None:
    check = revokes(account_id=1, session_id=10)

    assert check(_credentials(1, 1, "session", session_ids=[10, 11]))
    assert not check(_credentials(2, 1, "session", session_ids=[11]))
    assert not revokes(account_id=None, session_id=None)(
        _credentials(3, 1, "session", session_ids=[10])
    )
    # Events written before `credentials.changed` existed, read back on catch-up.
    assert check(LiveEvent(4, "sessions.revoked", {"account_id": 1, "session_ids": [10]}))
    assert closing(_credentials(5, 1, "session", session_ids=[10])).reason == "Session revoked"


@pytest.mark.parametrize("kind", ["role", "second_factor", "suspension", "password"])
def test_any_other_credentials_change_matches_every_session_of_the_account(kind: str) -> None:
    mine, theirs = _credentials(1, 1, kind), _credentials(2, 2, kind)

    assert revokes(account_id=1, session_id=10)(mine)
    assert revokes(account_id=1, session_id=11)(mine)
    assert not revokes(account_id=1, session_id=10)(theirs)
    assert not revokes(account_id=None, session_id=None)(mine)
    closed = closing(mine)
    assert (closed.code, closed.reason) == (4403, "Credentials changed; reconnect")


def _credentials(seq: int, account_id: int, kind: str, **extra: object) -> LiveEvent:
    return LiveEvent(seq, "credentials.changed", {"account_id": account_id, "kind": kind, **extra})


def test_live_events_survive_the_wire() -> None:
    event = _created(5, author=2)

    assert LiveEvent.decode(event.encode()) == event


def test_muting_and_unmuting_update_the_filters_live() -> None:
    graph = ViewerGraph(viewer_id=1, following={2})
    graph.observe(LiveEvent(1, "account.muted", {"muter_id": 1, "muted_id": 2}))
    assert not graph.home(_created(2, author=2))

    graph.observe(LiveEvent(3, "account.unmuted", {"muter_id": 1, "muted_id": 2}))
    assert graph.home(_created(4, author=2))


def test_unblocking_lets_posts_through_again_but_not_a_mute() -> None:
    graph = ViewerGraph(viewer_id=1, muted={3}, blocked={2, 3})
    graph.observe(LiveEvent(1, "account.unblocked", {"blocker_id": 1, "blocked_id": 2}))
    graph.observe(LiveEvent(2, "account.unblocked", {"blocker_id": 3, "blocked_id": 1}))

    assert graph.public(_created(3, author=2))
    assert not graph.public(_created(4, author=3))
