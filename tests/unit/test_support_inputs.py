"""Support inputs without I/O: the log-in history cursor and the account search."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from models.accounts.errors import InvalidSearch
from models.accounts.queries import AccountSearch
from models.errors import InvalidInput
from resolvers.paging import BadUserInput, encode_cursor
from resolvers.support import decode_history_cursor, encode_history_cursor


def test_a_history_cursor_round_trips_to_the_microsecond() -> None:
    key = (datetime(2026, 11, 26, 9, 30, 1, 123456, tzinfo=UTC), 0, 42)

    assert decode_history_cursor(encode_history_cursor(key)) == key


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        encode_cursor(5),
        base64.urlsafe_b64encode(b"h1:1.2.3").decode(),
        base64.urlsafe_b64encode(b"h1:1.1").decode(),
        base64.urlsafe_b64encode(b"h1:99999999999999999999.1.1").decode(),
    ],
)
def test_a_history_cursor_it_did_not_issue_is_bad_user_input(cursor: str) -> None:
    with pytest.raises(BadUserInput):
        decode_history_cursor(cursor)


def test_a_search_is_normalised() -> None:
    assert AccountSearch(handle_prefix=" @Ada ").checked() == AccountSearch(handle_prefix="ada")
    assert AccountSearch(email="Ada@Example.COM").checked().criterion() == (
        "email",
        "ada@example.com",
    )
    assert AccountSearch(ip="2001:DB8::0001").checked().ip == "2001:db8::1"


@pytest.mark.parametrize(
    "search",
    [
        AccountSearch(),
        AccountSearch(handle_prefix="a", ip="127.0.0.1"),
        AccountSearch(ip="300.1.1.1"),
        AccountSearch(email_prefix="ab"),
        AccountSearch(email=" "),
    ],
)
def test_a_malformed_search_is_refused(search: AccountSearch) -> None:
    with pytest.raises(InvalidSearch):
        search.checked()


@pytest.mark.parametrize(
    ("search", "field"),
    [
        (AccountSearch(handle_prefix="a" * 31), "handlePrefix"),
        (AccountSearch(handle_prefix="a" * 100_000), "handlePrefix"),
        (AccountSearch(email="a" * 250 + "@x.io"), "email"),
        (AccountSearch(email_prefix="a" * 255), "emailPrefix"),
        (AccountSearch(ip="fe80::1%" + "a" * 64), "ip"),
    ],
)
def test_a_search_term_longer_than_any_handle_email_or_ip_is_refused(
    search: AccountSearch, field: str
) -> None:
    with pytest.raises(InvalidSearch) as refused:
        search.checked()

    assert refused.value.field == field


def test_the_longest_terms_that_can_match_are_accepted() -> None:
    assert AccountSearch(handle_prefix="@" + "A" * 30).checked().handle_prefix == "a" * 30
    assert AccountSearch(email_prefix="a" * 254).checked().email_prefix == "a" * 254


@pytest.mark.parametrize(
    ("search", "field"),
    [
        (AccountSearch(handle_prefix="ad\x00a"), "handlePrefix"),
        (AccountSearch(email="a\x00b@x.io"), "email"),
        (AccountSearch(email_prefix="ada\x1b"), "emailPrefix"),
        (AccountSearch(ip="::1\x00"), "ip"),
    ],
)
def test_a_search_term_with_a_control_character_is_refused(
    search: AccountSearch, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        search.checked()

    assert refused.value.code == "INVALID_INPUT"
    assert refused.value.field == field


def test_only_email_criteria_search_by_email() -> None:
    assert AccountSearch(email="a@x.io").by_email
    assert AccountSearch(email_prefix="ada").by_email
    assert not AccountSearch(handle_prefix="ada").by_email
    assert not AccountSearch(ip="127.0.0.1").by_email
