"""Event timestamps: the capture time and callers' datetimes as RFC 3339 UTC text."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt

__all__ = ["format_timestamp", "now_timestamp"]

_second: tuple[int, str] = (-1, "")  # a second, and its text up to the fraction


def now_timestamp() -> tuple[str, int]:
    """The current time as RFC 3339 UTC text, and in Unix milliseconds (one clock read)."""
    global _second
    ns = time.time_ns()
    second = ns // 1_000_000_000
    cached = _second
    if second != cached[0]:  # formatting the date costs more than the whole rest
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)))
    micros = str(ns // 1000 % 1_000_000 + 1_000_000)  # "1" and six digits: cheaper than :06d
    return f"{cached[1]}{micros[1:]}+00:00", ns // 1_000_000


def format_timestamp(value: dt.datetime | dt.date) -> str:
    """A caller's timestamp in UTC; naive datetimes are local time, as Python treats them."""
    import datetime as dt  # deferred: only callers passing a timestamp need it

    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
