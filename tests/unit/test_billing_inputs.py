"""Billing inputs checked before any I/O: promotion codes' alphabet and `MinorUnits` literals
written in a document (not only in variables)."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from app.schema import build_schema
from models.billing import coupons, errors

REFUND_WITH = (
    'mutation {{ refundInvoice(input: {{invoiceId: "SW52b2ljZTox", amount: {amount}, '
    'reason: "abc"}}) {{ __typename }} }}'
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("launch-50", "LAUNCH-50"), (" Spring24 ", "SPRING24"), ("A" * 40, "A" * 40)],
)
def test_a_promotion_code_is_ascii_letters_digits_and_dashes_in_upper_case(
    typed: str, stored: str
) -> None:
    assert coupons.normalise_code(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "\u0661\u0662\u0663",  # Arabic-Indic digits: str.isalnum() accepts them
        "\uff21\uff22\uff23",  # full-width ABC
        "stra\u00dfe",  # "ß" upper-cases to "SS"
        "\u0131nvite",  # dotless i upper-cases to "I"
        "\u00b2",
        "no spaces",
        "under_score",
        "",
        "A" * 41,
    ],
)
def test_anything_else_is_no_promotion_code(typed: str) -> None:
    with pytest.raises(errors.UnknownCoupon):
        coupons.normalise_code(typed)


@pytest.mark.parametrize(
    ("literal", "reason"),
    [
        ("1.5", "a whole number"),
        ("99999999999999999999", "at most 1000000000000"),
        ('"12"', "a whole number"),
        ("true", "a whole number"),
        ("null", None),
    ],
)
def test_a_bad_minor_units_literal_is_a_plain_validation_error(
    literal: str, reason: str | None
) -> None:
    schema = build_schema()._schema

    found = validate(schema, parse(REFUND_WITH.format(amount=literal)))

    if reason is None:  # null is a valid value of the optional `amount`
        assert found == []
        return
    [error] = found
    assert reason in error.message and "MinorUnits" in error.message
    # An error with an original exception is masked as INTERNAL_SERVER_ERROR.
    assert error.original_error is None


def test_a_good_minor_units_literal_validates() -> None:
    schema = build_schema()._schema

    assert validate(schema, parse(REFUND_WITH.format(amount="-1000000000000"))) == []
