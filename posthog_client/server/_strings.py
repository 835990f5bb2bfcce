"""JSON text as stored, and the string clean-ups PostHog applies to whole JSON values.

Both replace with U+FFFD: capture a ``\\ud800`` escape that is not half of a pair, the person
store a NUL (Postgres cannot hold it). Both walk every string of a value, keys included, without
recursion (so no nesting depth breaks them) and without changing the input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

__all__ = ["dumps", "map_strings", "replace_lone_surrogates", "replace_nul"]

_REPLACEMENT: Final = "\ufffd"
# json.loads joins valid pairs into one code point, so any surrogate left is a lone one
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def dumps(value: object) -> str:
    """Compact JSON text, as the store keeps it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def map_strings(value: Any, fix: Callable[[str], str]) -> Any:
    """A copy of the JSON ``value`` with ``fix`` applied to every string in it, keys included."""
    root: list[Any] = [value]
    pending: list[tuple[Any, Any]] = [(root, 0)]
    while pending:
        container, key = pending.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = fix(item)
        elif isinstance(item, list):
            copied = list(item)
            container[key] = copied
            pending.extend((copied, index) for index in range(len(copied)))
        elif isinstance(item, dict):
            rebuilt = {fix(k) if isinstance(k, str) else k: v for k, v in item.items()}
            container[key] = rebuilt
            pending.extend((rebuilt, k) for k in rebuilt)
    return root[0]


def replace_lone_surrogates(value: Any) -> Any:
    """``value`` with every unpaired UTF-16 surrogate replaced by U+FFFD."""
    return map_strings(value, lambda text: _SURROGATE.sub(_REPLACEMENT, text))


def replace_nul(value: Any) -> Any:
    """``value`` with every NUL character replaced by U+FFFD."""
    return map_strings(value, lambda text: text.replace("\x00", _REPLACEMENT))
