"""Event timestamps: the capture time and callers' datetimes as RFC 3339 UTC text."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt

__all__ = ["format_timestamp", "now_timestamp"]

_second_prefix: tuple[int, str] = (-1, "")


def now_timestamp() -> tuple[str, int]:
    """The current time as RFC 3339 UTC text, and in Unix milliseconds."""
    global _second_prefix
    now = time.time()
    second = int(now)
    cached_second, prefix = _second_prefix
    if second != cached_second:  # formatting the date costs more than the whole rest
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_prefix = (second, prefix)
    micros = int((now - second) * 1_000_000)
    return f"{prefix}.{micros:06d}+00:00", int(now * 1000)


def format_timestamp(value: dt.datetime | dt.date) -> str:
    """A caller's timestamp in UTC; naive datetimes are local time, as Python treats them."""
    import datetime as dt  # deferred: only callers passing a timestamp need it

    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
