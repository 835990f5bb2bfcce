"""Person-property algebra: ``$set_once``/``$set``/``$unset`` (S12, S13), S2 and S21."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeAlias

__all__ = [
    "Sources",
    "add_initial_properties",
    "apply_updates",
    "compute_updates",
    "creation_properties",
    "creation_sources",
    "fill_os_from_os_name",
    "updated_sources",
]

Sources: TypeAlias = dict[str, dict[str, str]]
"""Property key → ``{"op": "$set" | "$set_once" | "created", "event", "uuid", "at"}``."""

# event properties ingestion copies onto the person ($set) and, first touch only, as $initial_*
_EVENT_TO_PERSON: Final = (
    "$app_build",
    "$app_name",
    "$app_namespace",
    "$app_version",
    "$browser",
    "$browser_version",
    "$device_type",
    "$current_url",
    "$pathname",
    "$os",
    "$os_name",  # an alias of $os (fill_os_from_os_name); lifted as itself only from servers
    "$os_version",
    "$referring_domain",
    "$referrer",
    "$screen_height",
    "$screen_width",
    "$viewport_height",
    "$viewport_width",
    "$raw_user_agent",
)
_CAMPAIGN: Final = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_name",
    "utm_term",
    "gclid",
    "gad_source",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "fbclid",
    "msclkid",
    "twclid",
    "li_fat_id",
    "mc_cid",
    "igshid",
    "ttclid",
    "rdt_cid",
    "irclid",
    "_kx",
    "epik",
    "qclid",
    "sccid",
)
_INITIAL_KEY: Final = {
    key: f"$initial_{key.removeprefix('$')}" for key in _EVENT_TO_PERSON + _CAMPAIGN
}
_CAMPAIGN_KEYS: Final = frozenset(_CAMPAIGN)
# a server SDK's host OS says nothing about the person, so it is not copied (W11)
_SERVER_HOST_KEYS: Final = frozenset({"$os", "$os_version"})


def _object(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _same_json(a: object, b: object) -> bool:
    # Python says True == 1; JSON (and ingestion's !==) does not
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def fill_os_from_os_name(properties: dict[str, Any]) -> None:
    """Give a client event without ``$os`` the ``$os_name`` some SDKs send instead, in place."""
    if properties.get("$is_server") is not True and "$os_name" in properties:
        properties.setdefault("$os", properties["$os_name"])


def add_initial_properties(properties: dict[str, Any]) -> None:
    """Add an event's automatic person properties to its ``$set``/``$set_once`` (S21), in place.

    Each known key present on the event goes to ``$set`` unless already there and, when not
    null, to ``$set_once`` as ``$initial_<key>`` unless already there (a null would block the
    real first-touch value forever). Campaign parameters that are null or ``""`` are skipped
    entirely: SDKs send every one of them on every event. A client's ``$os_name`` lands as
    ``$os``/``$initial_os``; a server's host OS (``$is_server``) never does (W11).
    """
    is_server = properties.get("$is_server") is True
    present = [
        key
        for key in _INITIAL_KEY
        if key in properties
        and not (is_server and key in _SERVER_HOST_KEYS)
        and not (key in _CAMPAIGN_KEYS and properties[key] in (None, ""))
    ]
    if not present:
        return
    set_ = _object(properties.get("$set"))
    set_once = _object(properties.get("$set_once"))
    for key in present:
        value = properties[key]
        set_.setdefault(key, value)
        if value is not None:
            set_once.setdefault(_INITIAL_KEY[key], value)
    if "$os_name" in present and not is_server:
        os_name = properties["$os_name"]
        set_.setdefault("$os", os_name)
        if os_name is not None:
            set_once.setdefault("$initial_os", os_name)
        set_.pop("$os_name", None)
        set_once.pop("$initial_os_name", None)
    properties["$set"] = set_
    properties["$set_once"] = set_once


def creation_properties(
    event_properties: Mapping[str, Any], creator_event_uuid: str
) -> dict[str, Any]:
    """A new person's properties: ``{**$set_once, **$set, "$creator_event_uuid": uuid}`` (S2)."""
    return {
        **_object(event_properties.get("$set_once")),
        **_object(event_properties.get("$set")),
        "$creator_event_uuid": creator_event_uuid,
    }


def compute_updates(
    event_properties: Mapping[str, Any], current: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The keys an event sets and the keys it deletes, both against the pre-event ``current`` (S12).

    ``$set_once`` fills only keys absent from ``current`` (a stored null counts as present,
    S13); ``$set`` then overrides every key whose value differs; ``$unset`` (a list of keys, or
    an object whose keys are used) deletes keys present in ``current``.
    """
    to_set = {
        key: value
        for key, value in _object(event_properties.get("$set_once")).items()
        if key not in current
    }
    for key, value in _object(event_properties.get("$set")).items():
        if key not in current or not _same_json(current[key], value):
            to_set[key] = value
    unset = event_properties.get("$unset")
    names = unset if isinstance(unset, list) else list(unset) if isinstance(unset, Mapping) else []
    to_unset = [name for name in names if isinstance(name, str) and name in current]
    return to_set, to_unset


def apply_updates(
    current: Mapping[str, Any], to_set: Mapping[str, Any], to_unset: list[str]
) -> dict[str, Any]:
    """``current`` with ``to_set`` applied, then ``to_unset`` deleted (sets first, then deletes)."""
    updated = {**current, **to_set}
    for name in to_unset:
        updated.pop(name, None)
    return updated


def creation_sources(event_properties: Mapping[str, Any], origin: Mapping[str, str]) -> Sources:
    """Where each property of a person created by an event came from (S2's precedence)."""
    sources = {
        key: {"op": "$set_once", **origin} for key in _object(event_properties.get("$set_once"))
    }
    sources.update({key: {"op": "$set", **origin} for key in _object(event_properties.get("$set"))})
    sources["$creator_event_uuid"] = {"op": "created", **origin}
    return sources


def updated_sources(
    sources: Mapping[str, dict[str, str]],
    event_properties: Mapping[str, Any],
    origin: Mapping[str, str],
    to_set: Mapping[str, Any],
    to_unset: list[str],
) -> Sources:
    """``sources`` after an event set ``to_set`` and deleted ``to_unset`` (as ``compute_updates``).

    A key the event has in ``$set`` was set by it; any other key in ``to_set`` by ``$set_once``.
    """
    set_keys = _object(event_properties.get("$set"))
    updated = dict(sources)
    for key in to_set:
        updated[key] = {"op": "$set" if key in set_keys else "$set_once", **origin}
    for key in to_unset:
        updated.pop(key, None)
    return updated
