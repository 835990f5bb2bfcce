"""Mixpanel's limits on one record (MA11, MA13): size, shape, string length.

Records over a limit are refused (``Invalid``, listed in ``failed_records``) except strings,
which Mixpanel cuts to 255 characters.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["Invalid", "check_shape", "check_size", "cut"]

_MAX_STRING: Final = 255
_MAX_ENTRIES: Final = 255  # properties, object keys and array items must stay below it
_MAX_DEPTH: Final = 3
_MAX_RECORD_BYTES: Final = 1_000_000


class Invalid(Exception):
    """A record field that fails validation: ``field`` as ``failed_records`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_size(record: dict[str, Any]) -> None:
    """A record must stay under 1 MB of JSON (MA11, MA13)."""
    size = len(json.dumps(record, ensure_ascii=False).encode())
    if size >= _MAX_RECORD_BYTES:
        raise Invalid("record", f"is {size} bytes; a record must stay under 1 MB")


def check_shape(properties: dict[str, Any], field: str) -> None:
    """MA11: fewer than 255 properties, object keys and array items; nesting at most 3 deep."""
    if len(properties) >= _MAX_ENTRIES:
        raise Invalid(field, f"has {len(properties)} entries; the limit is {_MAX_ENTRIES - 1}")
    for key, value in properties.items():
        _check_nested(value, f"{field}.{key}", 1)


def _check_nested(value: object, field: str, depth: int) -> None:
    if not isinstance(value, (dict, list)):
        return
    if depth > _MAX_DEPTH:
        raise Invalid(field, f"nests objects or arrays deeper than {_MAX_DEPTH} levels")
    if len(value) >= _MAX_ENTRIES:
        raise Invalid(field, f"has {len(value)} entries; the limit is {_MAX_ENTRIES - 1}")
    for item in value.values() if isinstance(value, dict) else value:
        _check_nested(item, field, depth + 1)


def cut(value: Any) -> Any:
    """``value`` with every string cut to 255 characters, as Mixpanel stores it (MA11)."""
    if isinstance(value, str):
        return value[:_MAX_STRING]
    if isinstance(value, dict):
        return {key: cut(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cut(item) for item in value]
    return value
