"""Per-record validation and normalisation of Mixpanel records (MA7–MA11, MA17, MA19, MS3, MS4).

Each check returns the normalised record, a ``FailedRecord`` (what strict ``/import`` lists in
``failed_records``) or ``Dropped`` (valid but not kept: wrong token, ``$ignore``, older than
``/track``'s window). Identity events need only their identity fields (MS3): mixpanel-python's
``alias`` and ``merge`` send neither ``time`` nor ``$insert_id``.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from ._limits import Invalid, check_shape, check_size, cut
from ._models import Endpoint, FailedRecord

__all__ = [
    "IDENTITY_EVENTS",
    "CheckedEvent",
    "CheckedUpdate",
    "Dropped",
    "check_event",
    "check_update",
    "time_ms",
]

IDENTITY_EVENTS: Final = frozenset({"$identify", "$create_alias", "$merge"})
_PROFILE_OPS: Final = frozenset(
    {"$set", "$set_once", "$add", "$append", "$union", "$remove", "$unset", "$delete"}
)
_GROUP_OPS: Final = frozenset({"$set", "$set_once", "$unset", "$remove", "$union", "$delete"})
# MA9: refused as distinct ids and as $insert_id values
_PLACEHOLDERS: Final = frozenset(
    {"00000000-0000-0000-0000-000000000000", "anon", "anonymous", "nil", "none", "null", "n/a",
     "na", "undefined", "unknown", "<nil>", "0", "-1", "true", "false", "[]", "{}"}
)  # fmt: skip
_INSERT_ID: Final = re.compile(r"[A-Za-z0-9-]{1,36}")
_MAX_ID_LENGTH: Final = 255
_MS_THRESHOLD: Final = 1e11  # MS4: a larger time is in milliseconds (local rule)
_MAX_TIME_MS: Final = 1e15  # beyond year 30000: not a time, and it would overflow SQLite
_MIN_IMPORT_MS: Final = 31_536_000_000  # 1971-01-01
_IMPORT_FUTURE_MS: Final = 3_600_000
_TRACK_WINDOW_MS: Final = 5 * 86_400_000


class Dropped(NamedTuple):
    """A valid record that is not kept, and why: ``token``, ``ignored`` or ``expired``."""

    reason: str


@dataclass(frozen=True)
class CheckedEvent:
    """An event ready to store: ``properties`` already hold the normalised fields."""

    name: str
    distinct_id: str
    """As sent (``""`` when absent: no user)."""
    properties: dict[str, Any]
    time_ms: int
    insert_id: str
    identity: tuple[str, str] | None
    """``$identify``: (identified, anon); ``$create_alias``: (alias, target); ``$merge``: ids."""


@dataclass(frozen=True)
class CheckedUpdate:
    """A profile (``/engage``) or group (``/groups``) update: its target and operations."""

    target: str
    """The ``$distinct_id``, or the ``$group_id``."""
    group_key: str | None
    ops: tuple[tuple[str, Any], ...]
    time_ms: int
    ignore_alias: bool


def time_ms(value: object) -> int | None:
    """A Mixpanel ``time`` in epoch milliseconds, or None if it is not a usable number (MS4)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0 or value >= _MAX_TIME_MS:
        return None
    return int(value) if value >= _MS_THRESHOLD else int(value * 1000)


def check_event(
    record: object, index: int, *, endpoint: Endpoint, strict: bool, token: str, now_ms: int
) -> CheckedEvent | FailedRecord | Dropped:
    """Validate and normalise one ``/track`` or ``/import`` event (MS3, MS4)."""
    insert_id: str | None = None
    try:
        if not isinstance(record, dict):
            raise Invalid("event", "a record must be a JSON object")
        properties = record.get("properties", {})
        if not isinstance(properties, dict):
            raise Invalid("properties", "must be a JSON object")
        sent_insert_id = properties.get("$insert_id")
        insert_id = sent_insert_id if isinstance(sent_insert_id, str) else None
        name = record.get("event")
        if not isinstance(name, str) or not name.strip():
            raise Invalid("event", "must be a non-empty string")
        if "$ignore" in properties:
            return Dropped("ignored")
        if endpoint == "track" and properties.get("token") != token:
            return Dropped("token")  # MA2: ignored, and the answer may still be 1
        is_identity = name in IDENTITY_EVENTS
        required = endpoint == "import" and strict and not is_identity
        identity = _identity_fields(name, properties) if is_identity else None
        distinct_id = _distinct_id(properties.get("distinct_id"), required, identity)
        when = _event_time(properties.get("time"), endpoint, required, now_ms)
        if isinstance(when, Dropped):
            return when
        insert_id = _insert_id(sent_insert_id, required)
        check_size(record)
        check_shape(properties, "properties")
    except Invalid as exc:
        return FailedRecord(index, insert_id, exc.field, exc.message)
    stored = {k: cut(v) for k, v in properties.items() if k not in ("token", "ip")}
    stored.update({"distinct_id": distinct_id, "time": when, "$insert_id": insert_id})
    return CheckedEvent(name, distinct_id, stored, when, insert_id, identity)


def check_update(
    record: object, index: int, *, group: bool, token: str, now_ms: int
) -> CheckedUpdate | FailedRecord | Dropped:
    """Validate one ``/engage`` (MA17) or, with ``group=True``, ``/groups`` (MA19) record."""
    try:
        if not isinstance(record, dict):
            raise Invalid("record", "a record must be a JSON object")
        if record.get("$token") != token:
            return Dropped("token")
        group_key = None
        if group:
            group_key = _required_id(record.get("$group_key"), "$group_key")
            target = _required_id(record.get("$group_id"), "$group_id")
        else:
            target = _required_id(record.get("$distinct_id"), "$distinct_id")
            _distinct_id(target, True, None, "$distinct_id")
        allowed = _GROUP_OPS if group else _PROFILE_OPS
        ops = tuple((op, _op_value(op, value)) for op, value in record.items() if op in allowed)
        if not ops:
            raise Invalid("record", "no operation ($set, $set_once, $unset…)")
        when = now_ms
        if record.get("$time") is not None:
            when = _required_time(record["$time"], "$time")
        check_size(record)
    except Invalid as exc:
        return FailedRecord(index, None, exc.field, exc.message)
    return CheckedUpdate(target, group_key, ops, when, record.get("$ignore_alias") is True)


def _identity_fields(name: str, properties: dict[str, Any]) -> tuple[str, str]:
    if name == "$identify":  # MI8: the API and the SDK spellings are the same pair
        identified = properties.get("$identified_id", properties.get("distinct_id"))
        anon = properties.get("$anon_id", properties.get("$anon_distinct_id"))
        return (
            _required_id(identified, "properties.$identified_id"),
            _required_id(anon, "properties.$anon_id"),
        )
    if name == "$create_alias":
        return (
            _required_id(properties.get("alias"), "properties.alias"),
            _required_id(properties.get("distinct_id"), "properties.distinct_id"),
        )
    ids = properties.get("$distinct_ids")
    if not isinstance(ids, list) or len(ids) != 2:
        raise Invalid("properties.$distinct_ids", "must list exactly two distinct ids")
    return (
        _required_id(ids[0], "properties.$distinct_ids"),
        _required_id(ids[1], "properties.$distinct_ids"),
    )


def _required_id(value: object, field: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise Invalid(field, "must be a non-empty string")
    return value


def _distinct_id(
    value: object,
    required: bool,
    identity: tuple[str, str] | None,
    field: str = "properties.distinct_id",
) -> str:
    if value is None:
        if identity is not None:
            return identity[0]  # $identify: U (MI8); $merge: its first id
        if required:
            raise Invalid(field, "must be specified")
        return ""
    if value == "":
        return ""  # MA9: accepted, an event of no user
    text = _required_id(value, field)
    if text.strip().lower() in _PLACEHOLDERS:
        raise Invalid(field, f"{text!r} is a placeholder, not a distinct id")
    if len(text) > _MAX_ID_LENGTH:
        raise Invalid(field, f"is longer than {_MAX_ID_LENGTH} characters")
    return text


def _event_time(value: object, endpoint: Endpoint, required: bool, now_ms: int) -> int | Dropped:
    if value is None:
        if required:
            raise Invalid("properties.time", "must be specified")
        return now_ms  # /track: the arrival time
    when = _required_time(value, "properties.time")
    if endpoint == "import":
        if when < _MIN_IMPORT_MS:
            raise Invalid("properties.time", "is before 1971-01-01")
        if when > now_ms + _IMPORT_FUTURE_MS:
            raise Invalid("properties.time", "is more than one hour in the future")
        return when
    if when > now_ms:
        return now_ms  # MA8: /track replaces a future time with the arrival time
    return Dropped("expired") if when < now_ms - _TRACK_WINDOW_MS else when


def _required_time(value: object, field: str) -> int:
    when = time_ms(value)
    if when is None:
        raise Invalid(field, "must be seconds or milliseconds since the Unix epoch")
    return when


def _insert_id(value: object, required: bool) -> str:
    if value is None:
        if required:
            raise Invalid("properties.$insert_id", "must be specified")
        return uuid.uuid4().hex  # MA7: generated, so such an event is never deduplicated
    if (
        not isinstance(value, str)
        or not _INSERT_ID.fullmatch(value)
        or value.lower() in _PLACEHOLDERS
    ):
        raise Invalid("properties.$insert_id", "must be 1 to 36 characters of [A-Za-z0-9-]")
    return value


def _op_value(op: str, value: object) -> Any:
    if op == "$delete":
        return None
    if op == "$unset":
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise Invalid(op, "must be a list of property names")
        return value
    if not isinstance(value, dict):
        raise Invalid(op, "must be a JSON object")
    check_shape(value, op)
    if op == "$add" and not all(_is_number(v) for v in value.values()):
        raise Invalid(op, "values must be numbers")
    if op == "$union" and not all(isinstance(v, list) for v in value.values()):
        raise Invalid(op, "values must be lists")
    return cut(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
