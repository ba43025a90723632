"""The shared free-text check: no NUL, no other control characters (multi-line text may
hold tabs and line breaks)."""

from __future__ import annotations

import pytest

from models.errors import InvalidInput
from models.text import check_text, has_control_characters, without_controls


@pytest.mark.parametrize("value", ["a\x00b", "\x00", "bell\x07", "esc\x1b[31m", "del\x7f"])
@pytest.mark.parametrize("multiline", [False, True])
def test_nul_and_other_controls_are_refused_with_the_field(value: str, multiline: bool) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_text(value, field="bio", multiline=multiline)

    assert refused.value.code == "INVALID_INPUT"
    assert refused.value.field == "bio"
    assert has_control_characters(value, multiline=multiline)


@pytest.mark.parametrize("value", ["tab\there", "two\nlines", "crlf\r\n"])
def test_tabs_and_line_breaks_are_only_for_multi_line_text(value: str) -> None:
    assert check_text(value, field="body", multiline=True) == value
    with pytest.raises(InvalidInput):
        check_text(value, field="displayName")


@pytest.mark.parametrize("value", ["", "plain", "émoji 🐦 and ünïcode", "  spaced  ", "a\u2028b"])
def test_ordinary_text_passes_unchanged(value: str) -> None:
    assert check_text(value, field="x") == value
    assert not has_control_characters(value)


def test_without_controls_keeps_line_breaks_but_drops_the_rest() -> None:
    assert without_controls("a\x00b\tc\nd\x1b") == "ab\tc\nd"
    assert without_controls("a\x00b\tc", multiline=False) == "abc"
