"""Opaque keyset cursors, global ids and the limits on page sizes."""

from __future__ import annotations

import base64
import binascii

from graphql import GraphQLError
from strawberry.relay.utils import from_base64, to_base64

from models.errors import InvalidInput

MAX_PAGE = 100
CURSOR_PREFIX = "c1:"


class BadUserInput(GraphQLError):
    """A malformed argument to a query: a top-level error with a stable code."""

    def __init__(self, message: str, *, argument: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT", "argument": argument})


class InvalidId(InvalidInput):
    code = "INVALID_ID"


def check_first(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput(f"`first` must be between 1 and {MAX_PAGE}.", argument="first")
    return first


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{key}".encode()).decode()


def decode_cursor(cursor: str | None, *, argument: str = "after") -> int | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not raw.startswith(CURSOR_PREFIX):
            raise ValueError(raw)
        key = int(raw[len(CURSOR_PREFIX) :])
        if key < 0:
            raise ValueError(raw)
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise BadUserInput("That cursor is not one this API issued.", argument=argument) from exc
    return key


def global_id(type_name: str, key: int) -> str:
    return to_base64(type_name, key)


def parse_global_id(value: str, *, expect: str | None, field: str) -> tuple[str, int]:
    """Split a global id; a malformed one, or one of the wrong type, is INVALID_ID."""
    try:
        type_name, raw = from_base64(value)
        key = int(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        raise InvalidId("That is not a valid id.", field=field) from exc
    if (expect is not None and type_name != expect) or key < 1:
        raise InvalidId(f"That is not a valid {expect or 'object'} id.", field=field)
    return type_name, key
