"""What the identity operations do differently when Mixpanel is the backend (mixpanel-spec §4, §8).

Pure decisions the client asks before it changes state: which ids and properties Mixpanel
refuses, which operations a model cannot express, and the person operations held for replay
under Simplified ID Merge (D7). Each refusal is a sentence for the WARNING the client logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final, get_args

from .._types import MixpanelIdMerge as IdMerge

__all__ = [
    "DEVICE_PREFIX",
    "ID_MERGE_MODELS",
    "RESERVED_PROPERTIES",
    "IdMerge",
    "alias_refusal",
    "device_distinct_id",
    "fold_person_ops",
    "identify_refusal",
    "merge_refusal",
    "new_device_id",
    "person_updates",
    "reserved_properties",
    "reset_warning",
]

ID_MERGE_MODELS: Final[tuple[IdMerge, ...]] = get_args(IdMerge)
DEVICE_PREFIX: Final = "$device:"
RESERVED_PROPERTIES: Final = frozenset(
    {"token", "distinct_id", "time", "$insert_id", "$device_id", "$user_id", "mp_lib"}
)
"""Properties the wire sets on every event: ``register`` refuses them."""


def new_device_id() -> str:
    """A device id Mixpanel accepts as anonymous: a UUID v4, not PostHog's v7 (D3, MI9)."""
    return str(uuid.uuid4())


def device_distinct_id(device_id: str) -> str:
    """The anonymous distinct id of a device, ``"$device:" + id`` (MC1); never prefixed twice."""
    return device_id if device_id.startswith(DEVICE_PREFIX) else DEVICE_PREFIX + device_id


def identify_refusal(distinct_id: str) -> str | None:
    """V8: Mixpanel's SDKs refuse to identify as an anonymous ``$device:`` id (MC3)."""
    if distinct_id.startswith(DEVICE_PREFIX):
        return f"{distinct_id!r} starts with {DEVICE_PREFIX!r}, Mixpanel's anonymous-id prefix"
    return None


def alias_refusal(id_merge: IdMerge) -> str | None:
    """D5: under Simplified ID Merge ``$create_alias`` does nothing (MI18), so refuse it."""
    if id_merge == "simplified":
        return (
            "alias() has no effect under Mixpanel's Simplified ID Merge; identify(user_id) links"
            " this device to the user"
        )
    return None


def merge_refusal(id_merge: IdMerge, service_account: bool) -> str | None:
    """D8: ``$merge`` exists only under Original ID Merge, sent with service-account credentials."""
    if id_merge != "original":
        return f"merge_dangerously() is not supported by Mixpanel's {id_merge} ID management"
    if not service_account:
        return (
            "merge_dangerously() needs Mixpanel service-account credentials ($merge is accepted"
            " only on /import with a service account); never ship them in a desktop app"
        )
    return None


def reset_warning(reset_device_id: bool) -> str | None:
    """D4: Mixpanel always draws a new device id on reset (MC7); keeping it would file the next
    user's events under the previous user (the device stays linked). The client forces a new one."""
    if reset_device_id:
        return None
    return (
        "reset(reset_device_id=False) draws a new device id anyway when sending to Mixpanel:"
        " the old one stays linked to the user who logged out"
    )


def reserved_properties(names: Iterable[str]) -> list[str]:
    """The names ``register``/``register_once`` must refuse, sorted."""
    return sorted(name for name in names if name in RESERVED_PROPERTIES)


def fold_person_ops(
    pending: Mapping[str, Any] | None,
    *,
    set: Mapping[str, Any] | None = None,  # mirrors $set
    set_once: Mapping[str, Any] | None = None,
    unset: Iterable[str] = (),
) -> dict[str, Any]:
    """D7: person operations sent to an anonymous device, folded for replay onto the user.

    Under Simplified ID Merge a device's profile is not carried to the user it links to (MI17),
    so the client keeps (persisted, JSON) the net effect of what it set while anonymous and
    replays it with the ``$identify`` (``person_updates``). ``pending`` maps a property to
    ``["set", value]``, ``["set_once", value]`` or ``["unset"]``; later operations win, except
    that ``$set_once`` never overrides a value set before it.
    """
    folded: dict[str, Any] = {key: list(entry) for key, entry in (pending or {}).items()}
    for key, value in (set_once or {}).items():
        entry = folded.get(key)
        if entry is None:
            folded[key] = ["set_once", value]
        elif entry[0] == "unset":  # the user will not have it: set_once sets it
            folded[key] = ["set", value]
    for key, value in (set or {}).items():
        folded[key] = ["set", value]
    for key in unset:
        folded[key] = ["unset"]
    return folded


def person_updates(pending: Mapping[str, Any]) -> dict[str, Any]:
    """The ``$set``/``$set_once``/``$unset`` of folded operations, for an ``$identify`` event."""
    updates: dict[str, Any] = {}
    for key, entry in pending.items():
        op = entry[0]
        if op == "unset":
            updates.setdefault("$unset", []).append(key)
        else:
            updates.setdefault(f"${op}", {})[key] = entry[1]
    return updates
