"""Audit-log filters and statistics ranges at the edges of the calendar: typed errors, never
an OverflowError."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from models.audit.errors import InvalidFilter
from models.audit.queries import EntryFilter
from models.errors import InvalidInput
from models.statistics.queries import InvalidRange, check_range

PLUS_14 = timezone(timedelta(hours=14))
MINUS_12 = timezone(timedelta(hours=-12))


@pytest.mark.parametrize(
    ("entry_filter", "field"),
    [
        (EntryFilter(since=datetime(1, 1, 1, tzinfo=PLUS_14)), "since"),
        (EntryFilter(until=datetime(9999, 12, 31, 23, 59, 59, tzinfo=MINUS_12)), "until"),
        (EntryFilter(since=datetime(2026, 1, 1)), "since"),  # naive
        (EntryFilter(until=datetime(2026, 1, 1)), "until"),  # naive
    ],
)
def test_times_out_of_range_or_without_an_offset_are_refused(
    entry_filter: EntryFilter, field: str
) -> None:
    with pytest.raises(InvalidFilter) as refused:
        entry_filter.checked()

    assert refused.value.field == field


def test_times_are_compared_in_utc() -> None:
    since = datetime(2026, 1, 2, 1, 0, tzinfo=PLUS_14)  # 2026-01-01T11:00Z
    until = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    checked = EntryFilter(since=since, until=until).checked()

    assert checked.since == datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
    assert checked.since is not None and checked.since.tzinfo is UTC
    assert EntryFilter(since=datetime.min.replace(tzinfo=UTC)).checked().since is not None
    assert EntryFilter(until=datetime.max.replace(tzinfo=UTC)).checked().until is not None


@pytest.mark.parametrize(
    ("entry_filter", "field"),
    [
        (EntryFilter(target_type="acc\x00ount"), "targetType"),
        (EntryFilter(target_type="account", target_id="4\x002"), "targetId"),
        (EntryFilter(action="role.grant\x1b"), "action"),
    ],
)
def test_control_characters_in_text_criteria_are_refused(
    entry_filter: EntryFilter, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        entry_filter.checked()

    assert (refused.value.code, refused.value.field) == ("INVALID_INPUT", field)


def test_the_last_day_of_the_calendar_is_out_of_range() -> None:
    with pytest.raises(InvalidRange) as refused:
        check_range(date(9999, 12, 30), date.max)

    assert refused.value.field == "lastDay"
    check_range(date(9999, 12, 29), date(9999, 12, 30))
    check_range(date.min, date.min + timedelta(days=1))
