"""Turning events into JSON bytes, with predictable conversions for values JSON cannot hold.

The output is always valid UTF-8 JSON that PostHog's capture accepts, whatever the input: one
bad event would otherwise make PostHog refuse its whole batch. The fast path is one
C-accelerated ``json`` encode and a strict UTF-8 encode. Only when that fails (an unknown type,
NaN, a non-string key, a cycle, a lone surrogate) or the event may nest deeper than PostHog
parses (``MAX_DEPTH``) does the slow path walk the event, convert what it can, replace the rest
(by its ``repr``, U+FFFD for a lone surrogate, null below ``MAX_DEPTH``) and say which property
it touched. The event itself is never dropped for a bad property; strict mode raises instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

from .._exceptions import InvalidEventError
from .._log import clip, clip_repr, logger

__all__ = ["MAX_DEPTH", "encode_event", "encode_fragment", "to_json_value"]

# Containers nested in an event, counting the event itself. PostHog's capture parses with
# serde_json, whose limit is 128 for the whole request body; this leaves ample room.
MAX_DEPTH: Final = 64


def _convert_known(value: Any) -> Any:
    """JSON stand-in for the non-JSON types the SDK converts silently; TypeError otherwise."""
    # Imported here, on the rare event with such a value, to keep them off the import path.
    import dataclasses
    import datetime as dt
    import enum
    import uuid
    from decimal import Decimal
    from pathlib import PurePath

    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:  # mixed types have no order; keep a stable-per-run order
            return list(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(type(value).__name__)


_encode_string = (
    json.encoder.encode_basestring
)  # what the encoder uses for str with ensure_ascii=False
_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_convert_known
)
# JSONEncoder.encode builds a new C encoder on every call; building it once halves the cost.
# Without cycle markers it is thread-safe, and a cycle ends in RecursionError: the slow path.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)

if _c_make_encoder is not None:
    _iterencode = _c_make_encoder(
        None, _convert_known, _encode_string, None, ":", ",", False, False, False
    )

    def _dumps(value: Any) -> str:
        return "".join(_iterencode(value, 0))

else:  # pragma: no cover - interpreters without the C accelerator
    _dumps = _encoder.encode  # type: ignore[assignment]


def encode_fragment(properties: Mapping[str, Any]) -> str:
    """``properties`` as the inside of a JSON object (no braces), for splicing into events."""
    return encode_event(properties)[1:-1].decode("utf-8")


def encode_event(
    event: Mapping[str, Any],
    *,
    strict: bool = False,
    shared_properties: tuple[Mapping[str, Any], str] | None = None,
) -> bytes:
    """The event as compact UTF-8 JSON; problems are fixed (or raised in strict mode).

    ``shared_properties`` is a (dict, pre-encoded fragment) pair of properties shared by many
    events whose keys the event's own properties do not repeat; splicing the fragment saves
    encoding them again for every event.
    """
    try:
        if shared_properties is None:
            line = _dumps(event).encode("utf-8")  # strict: a lone surrogate goes the slow way
        else:
            own = _dumps(event["properties"])
            fragment = shared_properties[1]
            spliced = "{" + fragment + ("," + own[1:] if len(own) > 2 and fragment else own[1:])
            text = _encode_string  # uuid and timestamp are generated or normalised: plain ASCII
            line = (
                f'{{"event":{text(event["event"])},"distinct_id":{text(event["distinct_id"])},'
                f'"properties":{spliced},"timestamp":"{event["timestamp"]}",'
                f'"uuid":"{event["uuid"]}"}}'
            ).encode()
        # Fewer brackets than MAX_DEPTH cannot nest deeper; only then look closer (rare).
        if line.count(b"{") + line.count(b"[") <= MAX_DEPTH or not _too_deep(event):
            return line
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        pass
    if shared_properties is not None:
        event = {**event, "properties": {**shared_properties[0], **event["properties"]}}
    problems: list[str] = []
    clean = to_json_value(event, "", problems, set())
    if problems:
        name = event.get("event")
        name = clip_repr(_clean_text(name) if isinstance(name, str) else name)
        if strict:
            raise InvalidEventError(f"event {name}: " + "; ".join(problems))
        logger.warning("event %s: %s", name, "; ".join(problems))
    return _encoder.encode(clean).encode("utf-8")


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
        converted = _convert_known(value)
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
