"""Argument checks that run before execution. An argument whose value alone can be refused (a
page size, a cursor, an id, a currency) declares its check in its `strawberry.argument`
metadata; the admission pass (`schema/core/admission.py`) runs the checks of every argument
of an operation before any resolver, so an operation is refused whole or runs, and no write
is answered with an error from a page size in its own payload's selection.

A check takes the argument's coerced value and its GraphQL name and raises `BadUserInput`;
the resolvers keep calling the same functions, so a field reached another way is no looser."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import GraphQLArgument

from models.billing import money
from models.errors import DomainError
from resolvers.paging import (
    LIST_CURSOR,
    BadUserInput,
    check_first,
    decode_cursor,
    parse_id_argument,
)

CHECK = "chirp.check"
Check = Callable[[Any, str], object]


def checked(check: Check) -> Mapping[str, Check]:
    """The metadata that declares `check` on an argument: `strawberry.argument(...,
    metadata=checked(page_size))`."""
    return {CHECK: check}


def check_of(argument: GraphQLArgument) -> Check | None:
    """The check an argument of the built schema declares, if any."""
    definition = (argument.extensions or {}).get("strawberry-definition")
    metadata = getattr(definition, "metadata", None) or {}
    check: Check | None = metadata.get(CHECK)
    return check


def page_size(value: int | None, argument: str) -> None:
    """`first`: 1 to MAX_PAGE."""
    if value is not None:
        try:
            check_first(value)
        except BadUserInput as err:
            raise BadUserInput(err.message, argument=argument) from err


def cursor(kind: str = LIST_CURSOR) -> Check:
    """A cursor this API issued for positions of `kind`."""

    def check(value: str | None, argument: str) -> None:
        decode_cursor(value, argument=argument, kind=kind)

    return check


def decoded_by(decode: Callable[[str | None], object]) -> Check:
    """A value `decode` accepts (it raises BadUserInput otherwise)."""

    def check(value: Any, argument: str) -> None:
        decode(value)

    return check


def global_id(type_name: str | None) -> Check:
    """A well-formed global id of `type_name` (of any type when None)."""

    def check(value: str | None, argument: str) -> None:
        if value is not None:
            parse_id_argument(value, type_name, argument)

    return check


def currency(value: str | None, argument: str) -> None:
    """An ISO 4217 code Chirp bills in."""
    if value is not None:
        try:
            money.check_currency(value)
        except DomainError as err:
            raise BadUserInput(err.message, argument=argument) from err


list_cursor = cursor()
