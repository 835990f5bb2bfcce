"""Capture v1's event shape, made from a queued event (in capture v0's shape, as the client
encodes it).

Capture v1 (PostHog's ``rust/capture/src/v1/analytics/types.rs``) reads an event more strictly
than ``/batch/``, and some of it in other places:

- ``event``, ``uuid``, ``distinct_id`` and ``timestamp`` are required at the root, as text: the
  uuid a UUID, the timestamp RFC 3339 (sent in UTC). A number as distinct id is sent as its text,
  as ``/batch/`` stores it. The server refuses a whole request for a missing or invalid uuid, a
  uuid twice, or a value of the wrong JSON type; so an event that would (a foreign line in the
  queue, a ``before_send`` hook's result) is refused here, alone, with the reason, never sent.
- ``options`` carries four settings v0 reads from properties, strictly typed:
  ``$process_person_profile`` → ``process_person_profile``, ``$cookieless_mode`` →
  ``cookieless_mode``, ``$ignore_sent_at`` → ``disable_skew_correction`` (booleans) and
  ``$product_tour_id`` → ``product_tour_id`` (text). Values are coerced as the server coerces
  them ("true", 1…); one that does not coerce stays in properties, where ingestion reads it as
  on v0, rather than cost the event. An option equal to PostHog's default is left out (the
  client marks every event ``$process_person_profile``; ``true`` is the default).
- ``$session_id`` and ``$window_id`` (text) move to the root; ``$set``/``$set_once`` given at the
  root move into properties (the root's keys winning, as on v0); ``$lib`` and ``$lib_version``
  are left out: the server takes them from the ``PostHog-Sdk-Info`` header.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, NamedTuple

from .._events.encoding import encode_event
from .._events.timestamps import format_timestamp
from .._events.uuid7 import normalize_uuid
from .._events.v1_options import OPTIONS
from .._fork_safety import lazy_imports

__all__ = ["V1Event", "to_v1_event"]

_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RFC3339_UTC: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|\+00:00)")
_decode: Final = json.JSONDecoder().decode  # built once: json.loads builds one per call
_ROOT: Final = {"$session_id": "session_id", "$window_id": "window_id"}
_OPTION_OF: Final = {key: (option, coerce, default) for key, option, coerce, default in OPTIONS}
_LIFTED: Final = ("$lib", "$lib_version", *_ROOT, *_OPTION_OF)  # out of properties, if there


class V1Event(NamedTuple):
    """One event in capture v1's shape: its uuid and its JSON."""

    uuid: str
    data: bytes


def to_v1_event(line: bytes) -> V1Event | str:
    """``line`` in capture v1's shape, or why it cannot be sent there."""
    try:  # NaN from a foreign line: encode_event sends it as null
        raw = _decode(line.decode("utf-8"))  # queued lines are UTF-8: no encoding to detect
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return "not a JSON event"
    if not isinstance(raw, dict):
        return "not a JSON event"
    name = raw.get("event")
    if not isinstance(name, str):
        return "the event name is not text"
    uuid = raw.get("uuid")
    if not (isinstance(uuid, str) and _UUID.fullmatch(uuid)):
        with lazy_imports():  # uuid is imported on first use; a fork must not split it
            uuid = normalize_uuid(uuid)
        if uuid is None:
            return "no valid uuid"
    distinct_id = raw.get("distinct_id")
    if not isinstance(distinct_id, str):
        if not isinstance(distinct_id, int | float) or isinstance(distinct_id, bool):
            return "the distinct id is not text"
        distinct_id = json.dumps(distinct_id)
    timestamp = _utc_timestamp(raw.get("timestamp"))
    if timestamp is None:
        return "no valid timestamp"
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    event: dict[str, Any] = {
        "event": name,
        "uuid": uuid,
        "distinct_id": distinct_id,
        "timestamp": timestamp,
    }
    options: dict[str, object] = {}
    if isinstance(properties, dict):  # anything else is sent as is: the server drops the event
        if "$set" in raw or "$set_once" in raw:
            _move_to_properties(raw, properties)
        for key in _LIFTED:
            if key not in properties:
                continue
            value = properties[key]
            if key in _ROOT:
                if isinstance(value, str):
                    event[_ROOT[key]] = properties.pop(key)
            elif key in _OPTION_OF:
                option, coerce, default = _OPTION_OF[key]
                coerced = coerce(value)
                if coerced is not None:
                    del properties[key]
                    if coerced != default:
                        options[option] = coerced
            else:  # $lib, $lib_version: from the PostHog-Sdk-Info header
                del properties[key]
    event["options"] = options
    event["properties"] = properties
    return V1Event(uuid, encode_event(event))  # a lone surrogate (a foreign line) becomes U+FFFD


def _move_to_properties(raw: dict[str, Any], properties: dict[str, Any]) -> None:
    for key in ("$set", "$set_once"):
        top = raw.get(key)
        if isinstance(top, dict):
            inner = properties.get(key)
            properties[key] = {**(inner if isinstance(inner, dict) else {}), **top}


def _utc_timestamp(value: object) -> str | None:
    """``value`` as RFC 3339 in UTC (what the client writes passes as is), or None."""
    if not isinstance(value, str):
        return None
    if _RFC3339_UTC.fullmatch(value):
        return value
    with lazy_imports():
        import datetime as dt
    text = value.strip()
    if text[-1:] in ("Z", "z"):  # Python 3.10 does not read the Z suffix
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
        if parsed.tzinfo is None:  # as the client reads a caller's timestamp without offset
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        return format_timestamp(parsed)
    except (ValueError, OverflowError):
        return None
