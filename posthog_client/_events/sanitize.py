"""What a caller passes to ``capture()`` besides the event name and distinct id, made safe.

Each function takes whatever the caller gave and returns what the event can carry, or None when
the value is unusable: the event is then kept with the SDK's own value (capture time, a new
uuid, no properties) and a WARNING names the problem. Nothing here raises, except in strict
mode (``InvalidEventError``).

- ``timestamp``: a ``datetime`` (naive means local time, as Python treats it) or ``date``, an
  ISO 8601 string (as posthog-python accepts; without an offset it is UTC), or a Unix time in
  seconds (values above 1e11 are taken as milliseconds, what JavaScript produces). Sent as
  RFC 3339 in UTC.
- ``uuid``: a ``UUID`` or its text in any case; PostHog deduplicates on it.
- ``properties``: a mapping; anything else is left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from .._exceptions import InvalidEventError
from .._log import clip, clip_repr, logger
from .timestamps import format_timestamp
from .uuid7 import normalize_uuid

__all__ = ["event_properties", "event_timestamp", "event_uuid"]

_MS_THRESHOLD: Final = 1e11  # as seconds: the year 5138; as milliseconds: 1973


def _problem(strict: bool, event: object, message: str, *args: object) -> None:
    text = message % args
    if strict:
        raise InvalidEventError(f"event {clip_repr(event)}: {text}")
    logger.warning("event %s: %s", clip_repr(event), text)


def event_timestamp(value: object, event: object, *, strict: bool = False) -> str | None:
    """``value`` as RFC 3339 UTC text, or None (use the capture time) with a WARNING."""
    import datetime as dt  # deferred: only callers passing a timestamp need it

    try:
        if isinstance(value, dt.date):  # datetime too
            return format_timestamp(value)
        if isinstance(value, str):
            return _from_iso(value.strip())
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _from_epoch(float(value))
        reason = f"is a {type(value).__name__}, not a datetime, ISO 8601 text or Unix time"
    except (ValueError, OverflowError, OSError) as exc:
        reason = f"cannot be converted to UTC ({clip(str(exc))})"
    _problem(strict, event, "timestamp %s %s; sent with the capture time", clip_repr(value), reason)
    return None


def _from_iso(text: str) -> str:
    import datetime as dt

    if text[-1:] in ("Z", "z"):  # Python 3.10 does not read the Z suffix
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return format_timestamp(parsed)


def _from_epoch(seconds: float) -> str:
    import datetime as dt

    if not math.isfinite(seconds):
        raise ValueError("not a finite number")
    if abs(seconds) >= _MS_THRESHOLD:
        seconds /= 1000
    return format_timestamp(dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc))


def event_uuid(value: object, event: object, *, strict: bool = False) -> str | None:
    """The caller's uuid in canonical form, or None (generate one) with a WARNING."""
    uuid = normalize_uuid(value)
    if uuid is None:
        _problem(strict, event, "uuid %s is not a UUID; sent with a new one", clip_repr(value))
    return uuid


def event_properties(
    value: object, event: object, *, strict: bool = False
) -> Mapping[str, Any] | None:
    """``value`` if it is a mapping, else None (no properties) with a WARNING."""
    if isinstance(value, Mapping):
        return value
    _problem(
        strict,
        event,
        "properties must be a mapping, not a %s; sent without them",
        type(value).__name__,
    )
    return None
