"""Turning events into JSON bytes, with predictable conversions for values JSON cannot hold.

The fast path is one C-accelerated ``json`` encode. Only when it fails (an unknown type, NaN,
a non-string key, a cycle) does the slow path walk the event, convert what it can, replace the
rest by its ``repr`` and say which property it touched. The event itself is never dropped for a
bad property; strict mode raises instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .._exceptions import InvalidEventError
from .._log import logger

__all__ = ["encode_event", "encode_fragment", "to_json_value"]


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
    return encode_event(properties)[1:-1].decode("utf-8", "surrogatepass")


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
            return _dumps(event).encode("utf-8", "surrogatepass")
        own = _dumps(event["properties"])
        fragment = shared_properties[1]
        spliced = "{" + fragment + ("," + own[1:] if len(own) > 2 and fragment else own[1:])
        text = _encode_string  # uuid and timestamp are generated or normalised: plain ASCII
        return (
            f'{{"event":{text(event["event"])},"distinct_id":{text(event["distinct_id"])},'
            f'"properties":{spliced},"timestamp":"{event["timestamp"]}","uuid":"{event["uuid"]}"}}'
        ).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError, RecursionError):
        pass
    if shared_properties is not None:
        event = {**event, "properties": {**shared_properties[0], **event["properties"]}}
    problems: list[str] = []
    clean = to_json_value(event, "", problems, set())
    if problems:
        name = event.get("event")
        if strict:
            raise InvalidEventError(f"event {name!r}: " + "; ".join(problems))
        logger.warning("event %r: %s", name, "; ".join(problems))
    return _encoder.encode(clean).encode("utf-8", "surrogatepass")


def to_json_value(value: Any, path: str, problems: list[str], active: set[int]) -> Any:
    """A JSON-safe copy of ``value``; each fix is described in ``problems`` by its key path."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        problems.append(f"{path or 'value'} is {value!r}, which JSON cannot hold; sent as null")
        return None
    if id(value) in active:
        problems.append(f"{path} refers to itself; sent as its repr")
        return "<circular reference>"
    if isinstance(value, Mapping | list | tuple):
        active.add(id(value))
        try:
            if isinstance(value, Mapping):
                return {
                    _key(k, path, problems): to_json_value(
                        v, f"{path}.{k}" if path else str(k), problems, active
                    )
                    for k, v in value.items()
                }
            return [to_json_value(v, f"{path}[{i}]", problems, active) for i, v in enumerate(value)]
        finally:
            active.discard(id(value))
    try:
        converted = _convert_known(value)
    except TypeError:
        problems.append(
            f"{path or 'value'} has type {type(value).__name__}, which JSON cannot hold;"
            " sent as its repr"
        )
        return _safe_repr(value)
    return to_json_value(converted, path, problems, active)


def _key(key: object, path: str, problems: list[str]) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)  # the json module's own spelling of such keys
    problems.append(f"{path or 'properties'} has a key of type {type(key).__name__}; sent as str()")
    return str(key)


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not cost the event
        return f"<unrepresentable {type(value).__name__}>"
