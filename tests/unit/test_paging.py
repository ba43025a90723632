"""Cursors, global ids and page sizes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.errors import InvalidId
from resolvers.paging import (
    BadUserInput,
    check_first,
    decode_cursor,
    encode_cursor,
    global_id,
    parse_global_id,
)


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_cursors_round_trip(key: int) -> None:
    assert decode_cursor(encode_cursor(key)) == key


@given(st.text())
def test_any_string_is_either_a_cursor_or_bad_user_input(raw: str) -> None:
    try:
        key = decode_cursor(raw)
    except BadUserInput as error:
        assert error.extensions == {"code": "BAD_USER_INPUT", "argument": "after"}
    else:
        assert key is not None and key >= 0


def test_absent_cursor_means_from_the_start() -> None:
    assert decode_cursor(None) is None


@pytest.mark.parametrize("first", [1, 50, 100])
def test_first_within_bounds(first: int) -> None:
    assert check_first(first) == first


@pytest.mark.parametrize("first", [0, -1, 101, 10**9])
def test_first_out_of_bounds(first: int) -> None:
    with pytest.raises(BadUserInput):
        check_first(first)


def test_global_ids_round_trip_and_check_their_type() -> None:
    post = global_id("Post", 42)

    assert parse_global_id(post, expect="Post", field="postId") == ("Post", 42)
    with pytest.raises(InvalidId):
        parse_global_id(post, expect="Account", field="accountId")


@pytest.mark.parametrize("raw", ["", "%%%", "UG9zdA==", "UG9zdDp4", "UG9zdDowCg==", "UG9zdDotMQ=="])
def test_malformed_global_ids_are_invalid_id(raw: str) -> None:
    with pytest.raises(InvalidId) as caught:
        parse_global_id(raw, expect="Post", field="postId")

    assert caught.value.code == "INVALID_ID"
    assert caught.value.field == "postId"
