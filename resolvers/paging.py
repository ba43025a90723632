"""Opaque keyset cursors, global ids and the limits on page sizes."""

from __future__ import annotations

import base64
import binascii

from graphql import GraphQLError
from strawberry.relay.utils import from_base64

from models.errors import InvalidId
from models.ids import global_id as global_id  # the API's ids are the domain's

MAX_PAGE = 100
LIST_CURSOR = "c1:"  # a position in a list: the last post or edge id seen
EVENT_CURSOR = "e1:"  # a position in the live event log: the last event seq seen
MAX_KEY = 2**63 - 1  # ids are BIGINT


class BadUserInput(GraphQLError):
    """A malformed argument to a query: a top-level error with a stable code."""

    def __init__(self, message: str, *, argument: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT", "argument": argument})


def check_first(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput(f"`first` must be between 1 and {MAX_PAGE}.", argument="first")
    return first


def encode_cursor(key: int, *, kind: str = LIST_CURSOR) -> str:
    return base64.urlsafe_b64encode(f"{kind}{key}".encode()).decode()


def decode_cursor(
    cursor: str | None, *, argument: str = "after", kind: str = LIST_CURSOR
) -> int | None:
    """The key inside a cursor this API issued for this kind of position; anything else,
    including a list cursor given to a subscription, is BAD_USER_INPUT."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not raw.startswith(kind):
            raise ValueError(raw)
        key = int(raw[len(kind) :])
        if not 0 <= key <= MAX_KEY:
            raise ValueError(raw)
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise BadUserInput("That cursor is not one this API issued.", argument=argument) from exc
    return key


def parse_global_id(value: str, *, expect: str | None, field: str) -> tuple[str, int]:
    """Split a global id; a malformed one, or one of the wrong type, is INVALID_ID."""
    try:
        type_name, raw = from_base64(value)
        key = int(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        raise InvalidId("That is not a valid id.", field=field) from exc
    if (expect is not None and type_name != expect) or not 1 <= key <= MAX_KEY:
        raise InvalidId(f"That is not a valid {expect or 'object'} id.", field=field)
    return type_name, key


def key_of(value: str, expect: str, field: str) -> int:
    """The database key inside a global id of type `expect` (INVALID_ID otherwise)."""
    return parse_global_id(value, expect=expect, field=field)[1]


def parse_id_argument(value: str, expect: str | None, argument: str) -> tuple[str, int]:
    """A global id given as a field argument: a malformed one is a BAD_USER_INPUT error."""
    try:
        return parse_global_id(value, expect=expect, field=argument)
    except InvalidId as err:
        raise BadUserInput(err.message, argument=argument) from err
