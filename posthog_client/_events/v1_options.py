"""Capture v1's typed event ``options`` and the properties capture v0 carries them in.

PostHog's v1 endpoint coerces each option leniently and drops an event whose option does not
coerce; the SDK lifts these properties into ``options`` and the local server puts them back. An
option left out takes PostHog's default: person processing on, cookieless mode and skew
correction off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

__all__ = ["OPTIONS", "as_bool", "as_text"]

_BOOLS: Final = {"true": True, "1": True, "false": False, "0": False}


def as_bool(value: object) -> bool | None:
    """``value`` as PostHog's v1 reads a boolean option (true, "true", "1", a non-zero number…),
    or None if it does not read as one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _BOOLS.get(value.strip().lower())
    return value != 0 if isinstance(value, int | float) else None


def as_text(value: object) -> str | None:
    """``value`` as a text option (an integer as its digits), or None."""
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else None


# (the property v0 reads, the v1 option, its coercion, PostHog's default)
OPTIONS: Final[tuple[tuple[str, str, Callable[[object], object], object], ...]] = (
    ("$cookieless_mode", "cookieless_mode", as_bool, False),
    ("$ignore_sent_at", "disable_skew_correction", as_bool, False),
    ("$process_person_profile", "process_person_profile", as_bool, True),
    ("$product_tour_id", "product_tour_id", as_text, None),
)
