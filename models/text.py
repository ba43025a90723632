"""Free text as people type it: no NUL and no other control characters.

PostgreSQL refuses NUL in text columns and parameters, and control characters in names,
search terms and reasons only serve to disguise them, so every free-text input is checked
here before it reaches a query or a row. Multi-line text (post bodies, bios, reasons, notes)
may hold tabs and line breaks; single-line text (names, search terms, filters) may not."""

from __future__ import annotations

import re

from models.errors import InvalidInput

# A spreadsheet runs a cell starting with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# C0 controls (U+0000 to U+001F) and DEL (U+007F).
_SINGLE_LINE_BAD = re.compile(r"[\x00-\x1f\x7f]")
# The same, except tab, line feed and carriage return.
_MULTI_LINE_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ControlCharacter(InvalidInput):
    code = "INVALID_INPUT"


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """Whether `check_text` would refuse `value`: for look-ups (a log-in name, a handle)
    that answer "no such account" rather than an error."""
    return (_MULTI_LINE_BAD if multiline else _SINGLE_LINE_BAD).search(value) is not None


def check_text(value: str, *, field: str, multiline: bool = False) -> str:
    """`value` unchanged, or INVALID_INPUT naming `field` (camelCase, as the client sent it)
    when it holds a NUL or another control character (tab, LF and CR are allowed in
    multi-line text)."""
    bad = (_MULTI_LINE_BAD if multiline else _SINGLE_LINE_BAD).search(value)
    if bad is not None:
        kind = "NUL" if bad.group() == "\x00" else f"U+{ord(bad.group()):04X}"
        allowed = " (tabs and line breaks are fine)" if multiline else ""
        raise ControlCharacter(
            f"`{field}` must not contain control characters such as {kind}{allowed}.",
            field=field,
        )
    return value


def without_controls(value: str, *, multiline: bool = True) -> str:
    """`value` with every character `check_text` refuses removed: for recording what was
    sent with a refused request (an audit entry), never for accepting input."""
    return (_MULTI_LINE_BAD if multiline else _SINGLE_LINE_BAD).sub("", value)


def neutralise(cell: str) -> str:
    """A CSV cell as every export writes it: one a spreadsheet would evaluate is prefixed
    with a quote, so it stays text."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
