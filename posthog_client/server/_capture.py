"""Capture-side checks and normalisation of one request's events, before any of them is stored.

Mirrors PostHog's capture service: an event without a name or with an empty distinct id
rejects the whole request (W14); distinct ids are normalised (S25); the event time is
corrected for client clock skew (S26); events without a uuid get a UUIDv7 (S27).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from .._events.uuid7 import normalize_uuid, uuid7
from ._ids import normalize_captured_distinct_id
from ._models import RequestRejectedError
from ._time import event_time, parse_timestamp

__all__ = ["CapturedEvent", "capture_events", "event_token", "parse_sent_at"]

_MAX_EVENT_NAME_CHARS: Final = 200
_TOKEN_FIELDS: Final = ("token", "$token", "api_key")


@dataclass(frozen=True)
class CapturedEvent:
    """An event that passed capture, in the shape ingestion works on."""

    uuid: str
    event: str
    distinct_id: str
    properties: dict[str, Any]
    timestamp: datetime
    invalid_timestamp: str | None
    """The client's timestamp when it could not be parsed (ingestion warns about it)."""


def parse_sent_at(value: object) -> datetime | None:
    """A request's ``sent_at``: an ISO string, Unix milliseconds (``/e/?_=``), or a datetime."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return parse_timestamp(value)
    return None


def event_token(raw: Mapping[str, Any]) -> str | None:
    """The token an event carries: ``token``/``$token``/``api_key``, else ``properties.token``."""
    for name in _TOKEN_FIELDS:
        value = raw.get(name)
        if value is not None:
            return value if isinstance(value, str) else str(value)
    properties = raw.get("properties")
    if isinstance(properties, Mapping):
        token = properties.get("token")
        if isinstance(token, str):
            return token
    return None


def capture_events(
    raw_events: Sequence[object], *, sent_at: datetime | None, now: datetime
) -> list[CapturedEvent]:
    """Check and normalise a request's events; raise ``RequestRejectedError`` on a bad one."""
    return [_capture_one(raw, index, sent_at, now) for index, raw in enumerate(raw_events)]


def _capture_one(raw: object, index: int, sent_at: datetime | None, now: datetime) -> CapturedEvent:
    if not isinstance(raw, Mapping):
        raise RequestRejectedError(
            "request_parsing_error", "an event must be a JSON object", index=index
        )
    name = raw.get("event")
    if not isinstance(name, str):
        raise RequestRejectedError("missing_event_name", "event name is missing", index=index)
    if not name:
        raise RequestRejectedError(
            "missing_event_name", "event submitted with an empty event name", index=index
        )
    properties = dict(_object_field(raw, "properties", index, nullable=False) or {})
    distinct_id = normalize_captured_distinct_id(_raw_distinct_id(raw, properties))
    if distinct_id is None:
        raise RequestRejectedError(
            "missing_distinct_id",
            "event submitted without a distinct_id or with an empty one",
            index=index,
        )
    # top-level $set/$set_once are merged into properties, the top-level value winning per key (W8)
    for key in ("$set", "$set_once"):
        top = _object_field(raw, key, index)
        if top:
            inner = properties.get(key)
            properties[key] = {**(inner if isinstance(inner, Mapping) else {}), **top}
    raw_timestamp = raw.get("timestamp")
    if raw_timestamp is not None and not isinstance(raw_timestamp, str):
        raise RequestRejectedError(
            "request_parsing_error", "timestamp must be a string", index=index
        )
    offset = raw.get("offset")
    if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int)):
        raise RequestRejectedError(
            "request_parsing_error", "offset must be an integer", index=index
        )
    parsed = parse_timestamp(raw_timestamp) if raw_timestamp else None
    skew_base = None if properties.get("$ignore_sent_at") is True else sent_at
    return CapturedEvent(
        uuid=_event_uuid(raw.get("uuid"), index),
        event=name[:_MAX_EVENT_NAME_CHARS],
        distinct_id=distinct_id,
        properties=properties,
        timestamp=event_time(parsed, offset, skew_base, now),
        invalid_timestamp=raw_timestamp if raw_timestamp and parsed is None else None,
    )


def _raw_distinct_id(raw: Mapping[str, Any], properties: Mapping[str, Any]) -> object:
    for value in (raw.get("distinct_id"), raw.get("$distinct_id"), properties.get("distinct_id")):
        if value is not None:
            return value
    return None


def _object_field(
    raw: Mapping[str, Any], key: str, index: int, *, nullable: bool = True
) -> Mapping[str, Any] | None:
    if key not in raw or (nullable and raw[key] is None):
        return None
    value = raw[key]
    if not isinstance(value, Mapping):
        raise RequestRejectedError(
            "request_parsing_error", f"{key} must be a JSON object", index=index
        )
    return value


def _event_uuid(value: object, index: int) -> str:
    if value is None or value == "":
        return uuid7()
    normalized = normalize_uuid(value)
    if normalized is None:
        raise RequestRejectedError("request_parsing_error", "uuid is not a valid UUID", index=index)
    return normalized
