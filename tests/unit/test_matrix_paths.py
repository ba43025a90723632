"""The authorization matrix counts a refusal only from the gated field (or its stand-in)."""

from __future__ import annotations

from tests.support.matrix import Call

ROLES = Call("query { node(id: 1) { ... on Account { roles } } }", path=("node", "roles"))
STAFF_REASON = Call(
    "...",
    path=("node", "strikes", "edges", "node", "staffReason"),
    stand_in=("node", "moderationStatus"),
)


def test_an_error_at_the_gated_field_or_below_it_decides() -> None:
    assert ROLES.decides(["node", "roles"])
    assert ROLES.decides(["node", "roles", 0])
    assert STAFF_REASON.decides(["node", "strikes", "edges", 3, "node", "staffReason"])
    assert STAFF_REASON.decides(["node", "moderationStatus"])


def test_an_error_anywhere_else_does_not() -> None:
    assert not ROLES.decides(["node", "email"])
    assert not ROLES.decides(["node"])
    assert not ROLES.decides(["viewer", "roles"])
    assert not ROLES.decides(None)
    assert not ROLES.decides([])
    assert not STAFF_REASON.decides(["node", "strikes"])
