"""Date operators (flags-spec E11): relative dates, time zones, timestamps."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_client._flags import PropertyFilter
from posthog_client._flags._dates import instant, parse, step_back
from posthog_client._flags._operators import match_property

UTC = dt.timezone.utc
PARIS = ZoneInfo("Europe/Paris")


def match(
    operator: str, value: Any, actual: Any, *, tz: dt.tzinfo = UTC, partial: bool = False
) -> bool | None:
    prop = PropertyFilter("when", value, operator)
    return match_property(prop, {"when": actual}, partial=partial, tz=tz)


def ago(**delta: float) -> str:
    return (dt.datetime.now(UTC) - dt.timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("operator", "value", "actual", "expected"),
    [
        ("is_date_before", "2024-06-01", "2024-01-01", True),
        ("is_date_after", "2024-06-01", "2024-01-01", False),
        ("is_date_after", "2024-06-01", "2024-06-01T00:00:01Z", True),
        ("is_date_exact", "2024-01-01", "2024-01-01T00:00:00Z", True),
        ("is_date_before", "2024-06-01", "2024-06-01T00:30:00+02:00", True),  # 22:30 UTC
        ("is_date_before", "2024-06-01 12:00", "2024-06-01 11:59:59.5", True),
        ("is_date_before", "2024-06-01T12:00", "2024-06-01T12:00:00", False),
        ("is_date_before", "2024-01-01", 1700000000, True),  # Unix seconds (Nov 2023)
        ("is_date_before", "2024-01-01", "1700000000", True),
        ("is_date_after", "2023-11-14", 1700000000.5, True),
        ("is_date_before", "1970-01-02", "NaN", True),  # NaN lands on the epoch, as in Rust
        ("is_date_after", "2023-11-14", "1700000000000", False),  # 13 digits read as seconds
        ("is_date_before", "1700000000001", "2023-11-14", True),  # …but as ms in a filter
        ("is_date_before", "Wed, 15 Nov 2023 00:00:00 +0000", "2023-11-14", True),  # RFC 2822
        ("is_date_before", "2023-11-15 00:00:00+0100", "2023-11-14T22:59:59Z", True),
        ("is_date_before", "-3d", ago(days=10), True),
        ("is_date_before", "3d", ago(days=10), True),  # the sign is optional
        ("is_date_after", "-30d", ago(days=10), True),
        ("is_date_after", "-1h", ago(minutes=10), True),
        ("is_date_before", "-2w", ago(days=15), True),
        ("is_date_after", "-1m", ago(days=20), True),
        ("is_date_before", "-1y", ago(days=400), True),
        ("is_date_after", "-9999y", "0001-01-02", True),
        ("is_date_before", "-10000d", ago(days=20000), False),  # n ≥ 10 000: not a date
        ("is_date_before", 20240101, "2023-01-01", False),  # a filter date must be a string
        ("is_date_before", "2024-01-01", True, False),
        ("is_date_before", "2024-01-01", None, False),
    ],
)
def test_dates(operator: str, value: Any, actual: Any, expected: bool) -> None:
    assert match(operator, value, actual) is expected


def test_naive_dates_are_read_in_the_team_time_zone() -> None:
    # Midnight in Paris on June 1st is 22:00 UTC on May 31st.
    assert match("is_date_after", "2024-06-01", "2024-05-31T23:00:00Z", tz=PARIS) is True
    assert match("is_date_after", "2024-06-01", "2024-05-31T23:00:00Z") is False
    assert match("is_date_after", "2024-06-01", "2024-06-01 00:30", tz=PARIS) is True


def test_a_wall_clock_time_that_does_not_exist_is_no_date() -> None:
    # Paris skips from 02:00 to 03:00 on 2024-03-31.
    assert parse("2024-03-31 02:30", PARIS) is None
    assert match("is_date_before", "2024-03-31 02:30", "2020-01-01", tz=PARIS) is False
    assert match("is_date_before", "2024-03-31 02:30", "2020-01-01", tz=PARIS, partial=True) is None
    ambiguous = parse("2024-10-27 02:30", PARIS)  # happens twice: the earlier one counts
    assert ambiguous is not None and ambiguous.utcoffset() == dt.timedelta(hours=2)


@pytest.mark.parametrize(
    ("now", "number", "unit", "expected"),
    [
        (dt.datetime(2020, 3, 31, 12), 1, "m", dt.datetime(2020, 2, 29, 12)),
        (dt.datetime(2020, 3, 31, 12), 2, "m", dt.datetime(2020, 1, 29, 12)),  # clamped stepwise
        (dt.datetime(2020, 3, 31, 12), 13, "m", dt.datetime(2019, 2, 28, 12)),
        (dt.datetime(2020, 1, 1, 12, 1, 20), 1, "m", dt.datetime(2019, 12, 1, 12, 1, 20)),
        (dt.datetime(2020, 1, 15), 12, "m", dt.datetime(2019, 1, 15)),
        (dt.datetime(2020, 1, 15), 9999, "m", dt.datetime(1186, 10, 15)),
        (dt.datetime(2024, 2, 29), 1, "y", dt.datetime(2023, 2, 28)),
        (dt.datetime(2024, 2, 29), 4, "y", dt.datetime(2020, 2, 28)),  # stays clamped
        (dt.datetime(2020, 1, 1, 12), 30, "h", dt.datetime(2019, 12, 31, 6)),
        (dt.datetime(2020, 1, 1), 4, "w", dt.datetime(2019, 12, 4)),
        (dt.datetime(2020, 1, 1), 2021, "y", None),
    ],
)
def test_relative_dates_step_back_like_the_service(
    now: dt.datetime, number: int, unit: str, expected: dt.datetime | None
) -> None:
    assert step_back(now, number, unit) == expected


def test_python_dates_are_accepted_for_local_evaluation() -> None:
    assert instant(dt.date(2024, 1, 1), UTC) == dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert match("is_date_before", "2024-06-01", dt.datetime(2024, 1, 1, tzinfo=UTC)) is True
    assert match("is_date_after", "2024-06-01", dt.datetime(2024, 7, 1), tz=PARIS) is True


def test_local_evaluation_defers_shapes_it_cannot_read() -> None:
    assert match("is_date_before", "2024-01-01", "yesterday", partial=True) is None
    assert match("is_date_before", "next week", "2023-01-01", partial=True) is None
    assert match("is_date_before", "2024-01-01", 5, partial=True) is True  # numbers are decided


@given(st.text(max_size=40))
def test_parse_never_raises(text: str) -> None:
    result = parse(text, PARIS)
    assert result is None or result.tzinfo is not None
