"""Turning events into JSON bytes, with predictable conversions for values JSON cannot hold.

The output is always valid UTF-8 JSON that PostHog's capture accepts, whatever the input: one
bad event would otherwise make PostHog refuse its whole batch. The fast path is one encode
(``codec``: orjson when installed, else the standard library's C encoder). Only when that fails
(an unknown type, NaN, a non-string key, a cycle, a lone surrogate) or the event may nest deeper
than PostHog parses (``MAX_DEPTH``) does the slow path walk the event, convert what it can,
replace the rest (by its ``repr``, U+FFFD for a lone surrogate, null below ``MAX_DEPTH``) and
say which property it touched. The event itself is never dropped for a bad property; strict
mode raises instead. Compact JSON escapes every control character, so a line never holds a raw
newline: the disk queue's framing relies on it.

``SharedProperties`` are the properties every event of one identity state carries (SDK context,
super properties), encoded once; the client sends them beside an event's own line and the queue
splices them back in (``with_shared``) when the event is read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

from .._exceptions import InvalidEventError
from .._log import clip, clip_repr, logger
from . import codec
from .codec import convert_known

__all__ = [
    "MAX_DEPTH",
    "SharedProperties",
    "encode_event",
    "splice_for",
    "to_json_value",
    "with_shared",
]

# Containers nested in an event, counting the event itself. PostHog's capture parses with
# serde_json, whose limit is 128 for the whole request body; this leaves ample room.
MAX_DEPTH: Final = 64
# Where an event's properties start. Events are encoded with "event" and "distinct_id", two
# strings, before "properties", and a string cannot hold an unescaped quote: the first match is it.
_PROPERTIES: Final = b'"properties":{'


class SharedProperties:
    """Properties many events share, encoded once: ``members`` is the JSON object without its
    braces, ``splice`` what ``with_shared`` puts in. Compared by identity: a new identity state
    makes a new one."""

    __slots__ = ("members", "properties", "splice")

    def __init__(self, properties: dict[str, Any]) -> None:
        self.properties = properties
        self.members = encode_event(properties)[1:-1]
        self.splice = splice_for(self.members)


def splice_for(members: bytes) -> bytes:
    """What ``with_shared`` puts where an event's properties start, for these ``members``."""
    return _PROPERTIES + members + b"," if members else _PROPERTIES


def with_shared(line: bytes, splice: bytes) -> bytes:
    """The event ``line`` (encoded by ``encode_event``, with properties of its own, as every
    event the client sends with shared ones has) with the members of ``splice``
    (``splice_for``) first in its properties, as if they had been encoded with it."""
    return line.replace(_PROPERTIES, splice, 1)


def encode_event(event: Mapping[str, Any], *, strict: bool = False) -> bytes:
    """The event as compact UTF-8 JSON; problems are fixed (or raised in strict mode)."""
    try:
        try:
            line = codec.dumps(event, convert_known, codec.options)
        except TypeError:  # orjson refuses what the standard library converts: non-str keys
            if not codec.nan_as_null:  # (duplicates included), integers over 64 bits
                raise
            line = codec.stdlib_dumps(event)
        # Fewer brackets than MAX_DEPTH cannot nest deeper; only then look closer (rare).
        deep = len(line) - len(line.translate(None, b"{[")) > MAX_DEPTH and _too_deep(event)
        if not deep and not (codec.nan_as_null and b"null" in line and codec.has_non_finite(event)):
            return line
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        pass
    problems: list[str] = []
    clean = to_json_value(event, "", problems, set())
    if problems:
        name = event.get("event")
        name = clip_repr(_clean_text(name) if isinstance(name, str) else name)
        if strict:
            raise InvalidEventError(f"event {name}: " + "; ".join(problems))
        logger.warning("event %s: %s", name, "; ".join(problems))
    return codec.dumps_text(clean).encode("utf-8")


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests containers more than ``MAX_DEPTH`` levels (iterative)."""
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return True
        nested: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, Mapping) else item
            nested.extend(c for c in children if isinstance(c, Mapping | list | tuple))
        level = nested
    return False


def _checked_text(text: str, where: str, problems: list[str]) -> str:
    clean = _clean_text(text)
    if clean is not text:
        problems.append(f"{where} has invalid Unicode (a lone surrogate); replaced by U+FFFD")
    return clean


def _clean_text(value: str) -> str:
    """``value`` with any lone surrogate replaced by U+FFFD (valid pairs are joined); the same
    object if it is valid already."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def to_json_value(
    value: Any, path: str, problems: list[str], active: set[int], depth: int = 0
) -> Any:
    """A JSON-safe copy of ``value``; each fix is described in ``problems`` by its key path."""
    try:
        return _to_json_value(value, path, problems, active, depth)
    except Exception as exc:  # a hostile object (items() or __iter__ raising): keep the event
        problems.append(
            f"{clip(path or 'value')} could not be read ({type(exc).__name__}); sent as null"
        )
        return None


def _to_json_value(value: Any, path: str, problems: list[str], active: set[int], depth: int) -> Any:
    if isinstance(value, str):
        return _checked_text(value, clip(path or "value"), problems)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        problems.append(f"{path or 'value'} is {value!r}, which JSON cannot hold; sent as null")
        return None
    if id(value) in active:
        problems.append(f"{clip(path)} refers to itself; sent as its repr")
        return "<circular reference>"
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_DEPTH:
            problems.append(
                f"{clip(path)} is nested more than {MAX_DEPTH} levels deep, more than PostHog "
                "reads; sent as null"
            )
            return None
        active.add(id(value))
        try:
            if isinstance(value, Mapping):
                result: dict[str, Any] = {}
                for k, v in value.items():
                    key = _key(k, path, problems)
                    result[key] = to_json_value(
                        v, f"{path}.{key}" if path else key, problems, active, depth + 1
                    )
                return result
            return [
                to_json_value(v, f"{path}[{i}]", problems, active, depth + 1)
                for i, v in enumerate(value)
            ]
        finally:
            active.discard(id(value))
    try:
        converted = convert_known(value)
    except TypeError:
        problems.append(
            f"{clip(path or 'value')} has type {type(value).__name__}, which JSON cannot hold;"
            " sent as its repr"
        )
        return _clean_text(clip(value, 1000))
    return to_json_value(converted, path, problems, active, depth)


def _key(key: object, path: str, problems: list[str]) -> str:
    if isinstance(key, str):
        return _checked_text(key, f"a key in {clip(path or 'properties')}", problems)
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)  # the json module's own spelling of such keys
    problems.append(
        f"{clip(path or 'properties')} has a key of type {type(key).__name__}; sent as str()"
    )
    return _clean_text(clip(str(key), 1000))
