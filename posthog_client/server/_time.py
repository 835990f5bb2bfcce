"""Event time as PostHog's capture computes it (S26)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Final

__all__ = ["EPOCH", "UTC", "event_time", "parse_timestamp", "start_of_hour", "stored_time"]

UTC: Final = timezone.utc
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_FUTURE_CUTOFF: Final = timedelta(hours=23)

# ISO 8601 / RFC 3339 and the common variants SDKs send: space instead of T, any number of
# fraction digits, "Z", "+hh:mm", "+hhmm" or "+hh", or no zone at all (read as UTC).
_ISO: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?"
)


def parse_timestamp(text: str) -> datetime | None:
    """Parse an ISO-8601 timestamp or Unix time (seconds, or milliseconds past 10 digits) to UTC."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        number = int(text)
        try:
            return EPOCH + timedelta(seconds=number if len(text) <= 10 else number / 1000)
        except OverflowError:
            return None
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, _z, sign, tz_hours, tz_minutes = (
        match.groups()
    )
    try:
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=UTC,
        )
        if sign:
            offset = timedelta(hours=int(tz_hours), minutes=int(tz_minutes or 0))
            parsed = parsed - offset if sign == "+" else parsed + offset
    except (ValueError, OverflowError):
        return None
    return parsed


def stored_time(text: str) -> datetime:
    """A timestamp read back from the store (which only holds timestamps it formatted)."""
    parsed = parse_timestamp(text)
    assert parsed is not None, "the store only holds timestamps it formatted"
    return parsed


def event_time(
    timestamp: datetime | None,
    offset_ms: int | None,
    sent_at: datetime | None,
    now: datetime,
) -> datetime:
    """The stored time of an event (S26).

    ``offset`` wins (``now - offset``); else a client ``timestamp`` corrected for the skew of the
    client clock (``sent_at - now``) when ``sent_at`` is known; else ``timestamp`` as sent; else
    ``now``. A result more than 23 h in the future becomes ``now``; one that leaves the years
    datetime can hold becomes the Unix epoch.
    """
    try:
        if offset_ms is not None:
            result = now - timedelta(milliseconds=offset_ms)
        elif timestamp is not None and sent_at is not None:
            result = timestamp - (sent_at - now)
        elif timestamp is not None:
            result = timestamp
        else:
            result = now
    except OverflowError:
        return EPOCH
    return now if result - now > _FUTURE_CUTOFF else result


def start_of_hour(value: datetime) -> datetime:
    """``value`` truncated to the hour: the resolution of a person's ``last_seen_at`` (S22)."""
    return value.replace(minute=0, second=0, microsecond=0)
