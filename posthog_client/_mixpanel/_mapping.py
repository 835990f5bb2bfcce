"""A queued event, in PostHog's wire shape, mapped to Mixpanel records (mixpanel-spec §4, M-MAP).

The delivery pipeline queues every event as it would send it to PostHog; a Mixpanel transport
calls ``map_event`` on each at send time. The mapping is deterministic, so a retried batch sends
the same ``$insert_id``, ``distinct_id`` and ``time`` again and Mixpanel deduplicates it (MA10).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple, TypeAlias

from .._exceptions import InvalidEventError
from .._log import warn_once
from ._limits import fit_properties
from ._operations import DEVICE_PREFIX, IdMerge, device_distinct_id

__all__ = ["LINK_EVENT", "MixpanelRecord", "MixpanelSettings", "RecordKind", "map_event"]

RecordKind: TypeAlias = Literal["event", "profile", "group"]
LINK_EVENT: Final = "Identified"
"""D6: sent after ``$identify`` under Simplified ID Merge, carrying both ids, so the device is
linked even when the app sends nothing more (``$identify`` itself never links, MI14)."""

# PostHog-only keys, and those the wire sets itself
_NOT_SENT: Final = frozenset(
    {"$process_person_profile", "$is_identified", "$is_server", "$groups", "$set", "$set_once",
     "$unset", "$window_id", "$geoip_disable", "$context_tags", "$anon_distinct_id", "token",
     "distinct_id", "time", "$insert_id", "$device_id", "$user_id", "$lib", "$session_id", "$ip"}
)  # fmt: skip
_INSERT_ID: Final = re.compile(r"[A-Za-z0-9-]{1,36}")


@dataclass(frozen=True)
class MixpanelSettings:
    """What the mapping needs to know about the Mixpanel project and the transport."""

    token: str
    id_merge: IdMerge = "simplified"
    service_account: bool = False
    """Whether the transport holds service-account credentials (``$merge`` needs them, D8)."""
    session_property: str = "session_id"
    """D10: the property Mixpanel's property-based sessions are configured on (MA20)."""


class MixpanelRecord(NamedTuple):
    """One record to send: an event (``/import``), a profile (``/engage``) or group update."""

    kind: RecordKind
    body: dict[str, Any]
    privileged: bool = False
    """``$merge``: only ``/import`` with a service account accepts it (MI11)."""


class _Ids(NamedTuple):
    distinct_id: str
    device_id: str | None
    user_id: str | None


def map_event(event: Mapping[str, Any], settings: MixpanelSettings) -> list[MixpanelRecord]:
    """The records that carry ``event`` to Mixpanel; ``[]`` when the model has no equivalent.

    Raises ``InvalidEventError`` for an event without a uuid or a readable timestamp, which the
    queue never holds.
    """
    name = str(event.get("event", ""))
    properties = dict(event.get("properties") or {})
    ids = _ids(str(event.get("distinct_id", "")), properties)
    when = _time_ms(event)
    insert_id = _insert_id(event.get("uuid"))
    updates = [(op, properties[op]) for op in ("$set", "$set_once", "$unset") if properties.get(op)]
    profiles = _profiles(ids.distinct_id, updates, when, settings)
    if name == "$set":
        return profiles
    if name == "$groupidentify":
        return [_group(properties, when, settings)]
    if name == "$create_alias" and settings.id_merge == "simplified":
        warn_once("mixpanel-alias", "$create_alias not sent: Simplified ID Merge ignores it (D5)")
        return []
    if name == "$merge_dangerously":
        return _merge(ids.distinct_id, properties.get("alias"), when, insert_id, settings)
    body = _event(name, properties, ids, when, insert_id, settings)
    records = [MixpanelRecord("event", body)]
    if name == "$identify":
        anon = properties.get("$anon_distinct_id")
        if isinstance(anon, str) and anon:
            body["properties"]["$anon_distinct_id"] = device_distinct_id(anon)
        if settings.id_merge == "simplified":
            link = {k: v for k, v in body["properties"].items() if k != "$anon_distinct_id"}
            link["$insert_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{insert_id}/link"))
            records.append(MixpanelRecord("event", {"event": LINK_EVENT, "properties": link}))
    return records + profiles


def _ids(distinct_id: str, properties: Mapping[str, Any]) -> _Ids:
    """Which distinct id, ``$device_id`` and ``$user_id`` an event goes under (M-MAP, MI16)."""
    device = properties.get("$device_id")
    if properties.get("$is_server") is not True and isinstance(device, str) and device:
        if distinct_id == device or properties.get("$is_identified") is False:
            # anonymous: the device's "$device:" id (MC1), whatever the PostHog state called it
            return _Ids(
                device_distinct_id(distinct_id), distinct_id.removeprefix(DEVICE_PREFIX), None
            )
        return _Ids(distinct_id, device, distinct_id)
    if (
        properties.get("$is_identified") is False
        and properties.get("$process_person_profile") is False
    ):
        return _Ids("", None, None)  # a personless backend event: Mixpanel's "no user" (MA9)
    if distinct_id.startswith(DEVICE_PREFIX):  # a Mixpanel frontend's anonymous id
        return _Ids(distinct_id, distinct_id[len(DEVICE_PREFIX) :] or None, None)
    return _Ids(distinct_id, None, distinct_id)


def _event(
    name: str,
    properties: dict[str, Any],
    ids: _Ids,
    when: int,
    insert_id: str,
    settings: MixpanelSettings,
) -> dict[str, Any]:
    out = {key: value for key, value in properties.items() if key not in _NOT_SENT}
    groups = properties.get("$groups")
    if isinstance(groups, Mapping):  # MA19: a group is a property named by its group key
        for group_type, group_key in groups.items():
            out.setdefault(str(group_type), group_key)
    if "$lib" in properties:
        out["mp_lib"] = properties["$lib"]  # D14: "posthog-client-python", not "python"
    if properties.get("$session_id"):
        out[settings.session_property] = properties["$session_id"]
    if properties.get("$ip"):
        out["ip"] = properties["$ip"]  # the address Mixpanel geolocates (MA11)
    wire: dict[str, Any] = {
        "token": settings.token,
        "distinct_id": ids.distinct_id,
        "time": when,
        "$insert_id": insert_id,
    }
    if ids.device_id:
        wire["$device_id"] = ids.device_id
    if ids.user_id:
        wire["$user_id"] = ids.user_id
    return {"event": name, "properties": fit_properties(out, wire)}


def _profiles(
    distinct_id: str, updates: list[tuple[str, Any]], when: int, settings: MixpanelSettings
) -> list[MixpanelRecord]:
    if not distinct_id:
        return []
    seconds = when / 1000  # /engage's $time is in seconds, as mixpanel-python sends it
    return [
        MixpanelRecord(
            "profile",
            {"$token": settings.token, "$distinct_id": distinct_id, "$time": seconds, op: value},
        )
        for op, value in updates  # MA18: one operation per record, as Mixpanel's SDKs send
    ]


def _group(properties: Mapping[str, Any], when: int, settings: MixpanelSettings) -> MixpanelRecord:
    body = {
        "$token": settings.token,
        "$group_key": properties.get("$group_type"),
        "$group_id": properties.get("$group_key"),
        "$time": when / 1000,
        "$set": dict(properties.get("$group_set") or {}),
    }
    return MixpanelRecord("group", body)


def _merge(
    current: str, other: object, when: int, insert_id: str, settings: MixpanelSettings
) -> list[MixpanelRecord]:
    if settings.id_merge != "original" or not settings.service_account:
        warn_once("mixpanel-merge", "$merge_dangerously not sent: see merge_refusal() (D8)")
        return []
    if not current or not isinstance(other, str) or not other:
        warn_once("mixpanel-merge-ids", "$merge_dangerously not sent: it needs two distinct ids")
        return []
    properties = {
        "token": settings.token,
        "$distinct_ids": [current, other],
        "time": when,
        "$insert_id": insert_id,
    }
    return [MixpanelRecord("event", {"event": "$merge", "properties": properties}, True)]


def _time_ms(event: Mapping[str, Any]) -> int:
    """``timestamp`` as integer epoch milliseconds (D11)."""
    text = event.get("timestamp")
    if isinstance(text, str):
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return int(moment.timestamp() * 1000)
    raise InvalidEventError("a queued event has no timezone-aware ISO 8601 timestamp")


def _insert_id(value: object) -> str:
    """MA10: the event's uuid (36 characters of [0-9a-f-]) is a valid ``$insert_id`` as it is."""
    if not isinstance(value, str) or not value:
        raise InvalidEventError("a queued event has no uuid")
    if _INSERT_ID.fullmatch(value):
        return value
    return str(uuid.uuid5(uuid.NAMESPACE_URL, value))
