"""Event properties fitted to Mixpanel's shape limits (MA11), so strict ``/import`` keeps them.

Mixpanel refuses an event with 255 properties or more, or an object or array nested deeper than
3 levels or holding 255 entries or more. Rather than lose the event, deeper values are sent as
JSON text, and the entries past a limit are left out, with one WARNING per process each.
Strings are not cut here: Mixpanel cuts them to 255 characters itself.
"""

from __future__ import annotations

import json
from typing import Any, Final

from .._log import warn_once

__all__ = ["MAX_ENTRIES", "fit_properties"]

MAX_ENTRIES: Final = 254
"""Properties of an event, keys of an object, items of an array: fewer than 255."""
_MAX_DEPTH: Final = 3


def fit_properties(properties: dict[str, Any], wire: dict[str, Any]) -> dict[str, Any]:
    """``properties`` fitted to MA11, then ``wire`` (token, ids, time…) added over them."""
    room = MAX_ENTRIES - len(wire)
    names = [name for name in properties if name not in wire]
    if len(names) > room:
        warn_once(
            "mixpanel-too-many-properties",
            "Mixpanel takes at most %d properties per event: %d left out of an event",
            MAX_ENTRIES,
            len(names) - room,
        )
        names = names[:room]
    fitted = {name: _fit(properties[name], 1) for name in names}
    fitted.update(wire)
    return fitted


def _fit(value: Any, depth: int) -> Any:
    if not isinstance(value, (dict, list)):
        return value
    if depth > _MAX_DEPTH:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(value) > MAX_ENTRIES:
        warn_once(
            "mixpanel-too-many-entries",
            "Mixpanel takes at most %d entries per object or array: the rest is left out",
            MAX_ENTRIES,
        )
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ENTRIES]
        return {key: _fit(item, depth + 1) for key, item in items}
    return [_fit(item, depth + 1) for item in value[:MAX_ENTRIES]]
