"""Dates as PostHog's flag service reads them (E11).

A string is, in order: a relative date (``-3d``, ``3d``, ``12h``, ``2w``, ``6m``, ``1y``, counted
back from now on the wall clock of the team's time zone, months and years calendar-aware), an
RFC 3339 timestamp, a naive date or date-time read in the team's time zone, or one of a few
fallback shapes (Unix timestamps, RFC 2822, a date-time with a numeric offset). Property values
may also be numbers (Unix seconds). The service's last-resort parser knows more shapes than
these; :func:`instant` returns None for them, which local evaluation treats as undecidable.
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Final

from ._coerce import to_float

__all__ = ["instant", "parse", "step_back"]

_UTC: Final = timezone.utc
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=_UTC)
_LONG_AGO: Final = datetime.min.replace(tzinfo=_UTC)
_RELATIVE: Final = re.compile(r"-?([0-9]+)([hdwmy])")
_TIME: Final = r"([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
_DATE: Final = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
_RFC3339: Final = re.compile(rf"{_DATE}[Tt ]{_TIME}([Zz]|[+-][0-9]{{2}}:[0-9]{{2}})")
_NAIVE: Final = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:[T ]([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2})(\.[0-9]+)?)?)?"
)
_OFFSET: Final = re.compile(
    rf"{_DATE}[T ]{_TIME} ?(Z|UTC|[+-][0-9]{{2}}(?::?[0-9]{{2}})?)",
    re.IGNORECASE,
)
_UNITS: Final = {"h": "hours", "d": "days", "w": "weeks"}
_TIMESTAMP_DIGITS: Final = {10: 1, 13: 1_000, 16: 1_000_000, 19: 1_000_000_000}


def instant(value: object, tz: tzinfo) -> datetime | None:
    """A property value as an aware datetime; None if it is not one (E11)."""
    if isinstance(value, str):
        seconds = to_float(value)
        return _from_unix(seconds) if seconds is not None else parse(value, tz)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = to_float(value)
        return _from_unix(seconds) if seconds is not None else None
    if isinstance(value, datetime):  # local evaluation may be handed Python objects
        return value if value.tzinfo is not None else _localize(value, tz)
    if isinstance(value, date):
        return _localize(datetime(value.year, value.month, value.day), tz)
    return None


def parse(text: str, tz: tzinfo) -> datetime | None:
    """A filter value (or string property) as an aware datetime; None if unparsable."""
    match = _RELATIVE.fullmatch(text)
    if match and len(number := match.group(1).lstrip("0") or "0") <= 4:  # n ≥ 10 000 is refused
        return _relative(int(number), match.group(2), tz)
    try:
        if match := _RFC3339.fullmatch(text):
            return _aware(match.groups()[:7], _offset(match.group(8)))
        if match := _NAIVE.fullmatch(text):
            return _localize(_naive(match.groups()), tz)
        return _fallback(text)
    except (ValueError, OverflowError):
        return None


def _relative(number: int, unit: str, tz: tzinfo) -> datetime | None:
    wall_clock = datetime.now(tz).replace(tzinfo=None)
    earlier = step_back(wall_clock, number, unit)
    return _LONG_AGO if earlier is None else _localize(earlier, tz)


def step_back(now: datetime, number: int, unit: str) -> datetime | None:
    """``now`` (a naive wall clock) minus ``number`` units; None before year 1.

    Months go back one at a time, clamping the day each time (Mar 31 → Feb 29 → Jan 29), and
    years keep Feb 29 only until the first step, as the service's loop does.
    """
    if unit in _UNITS:
        return now - timedelta(**{_UNITS[unit]: number})
    year, month, day = now.year, now.month, now.day
    if unit == "y":
        year -= number
        if month == 2 and day == 29 and number:
            day = 28
    else:
        for step in range(number):
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
            if year < 1:
                return None
            day = min(day, calendar.monthrange(year, month)[1])
            if day <= 28:  # no month is shorter: jump the rest
                year, month = divmod(year * 12 + month - 1 - (number - step - 1), 12)
                month += 1
                break
    return now.replace(year=year, month=month, day=day) if year >= 1 else None


def _from_unix(seconds: float) -> datetime | None:
    """Unix seconds the way the service converts them (NaN lands on the epoch, like Rust)."""
    if math.isnan(seconds):
        return _EPOCH
    if math.isinf(seconds):
        return None
    fraction = math.fmod(seconds, 1.0) * 1e9
    nanos = max(0, math.floor(fraction + 0.5))  # a negative remainder saturates to 0 in Rust
    try:
        return _EPOCH + timedelta(seconds=math.floor(seconds), microseconds=nanos // 1000)
    except OverflowError:
        return None


def _localize(naive: datetime, tz: tzinfo) -> datetime | None:
    """``naive`` on the wall clock of ``tz``: the earlier instant when ambiguous, None in a gap."""
    aware = naive.replace(tzinfo=tz, fold=0)
    if tz is _UTC:
        return aware
    try:
        back = aware.astimezone(_UTC).astimezone(tz).replace(tzinfo=None)
    except OverflowError:
        return aware
    return aware if back == naive else None


def _naive(parts: tuple[str | None, ...]) -> datetime:
    year, month, day, hour, minute, second, fraction = parts
    micros = int((fraction[1:] + "000000")[:6]) if fraction else 0
    return datetime(
        int(year or 0), int(month or 0), int(day or 0),
        int(hour or 0), int(minute or 0), int(second or 0), micros,
    )  # fmt: skip


def _aware(parts: tuple[str | None, ...], zone: tzinfo) -> datetime:
    return _naive(parts).replace(tzinfo=zone)


def _offset(text: str) -> tzinfo:
    if text.upper() in ("Z", "UTC"):
        return _UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
    return timezone(sign * timedelta(minutes=minutes))


def _fallback(text: str) -> datetime | None:
    """Shapes of the service's last-resort parser that local evaluation also understands."""
    if text.isascii() and text.isdigit() and len(text) in _TIMESTAMP_DIGITS:
        per_second = _TIMESTAMP_DIGITS[len(text)]
        seconds, rest = divmod(int(text), per_second)
        return _EPOCH + timedelta(seconds=seconds, microseconds=rest * 1_000_000 // per_second)
    if match := _OFFSET.fullmatch(text):
        return _aware(match.groups()[:7], _offset(match.group(8)))
    from email.utils import parsedate_to_datetime  # rarely needed: keep it off import time

    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)
