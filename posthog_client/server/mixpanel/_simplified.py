"""Simplified ID Merge: ``$device_id`` / ``$user_id`` on events link devices to users
(MI13–MI18, MS15–MS19).

An event is stored under its ``$user_id``, else ``"$device:" + $device_id``, else the id it was
sent with (which, alone, is read by MI16: ``"$device:D"`` is device D, anything else a user).
The first event carrying both ids links the device to the user, retroactively; ``$identify``,
``$create_alias`` and ``$merge`` never link. Users never merge; a profile update sent to an
unlinked device stays on that device's own profile (MI17).
"""

from __future__ import annotations

from typing import Any

from ._checks import IDENTITY_EVENTS, CheckedEvent
from ._identity import DEVICE_PREFIX, Attribution, PersonIds
from ._store import Store

__all__ = ["SimplifiedModel"]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class SimplifiedModel:
    """MS15–MS19 on the store's ``devices`` table."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def attribute(self, event: CheckedEvent, privileged: bool) -> Attribution:
        device = _text(event.properties.get("$device_id"))
        user = _text(event.properties.get("$user_id"))
        sent = event.distinct_id
        if device is None and user is None:  # MI16
            if sent.startswith(DEVICE_PREFIX):
                device = _text(sent[len(DEVICE_PREFIX) :])
            else:
                user = _text(sent)
        key = user or (DEVICE_PREFIX + device if device else sent)
        if device is None or user is None or event.name in IDENTITY_EVENTS:
            return Attribution(key, failure_property="$identity_failure_reason")
        linked = self._store.device_user(device)
        if linked is None:
            self._store.see(DEVICE_PREFIX + device)
            self._store.link_device(device, user)
        elif linked != user:  # local rule (MS16): a device keeps its first user
            return Attribution(
                key,
                "errDeviceLinkedToOtherUser",
                f"$device_id {device!r} is already linked to $user_id {linked!r}",
                "$identity_failure_reason",
            )
        return Attribution(key, failure_property="$identity_failure_reason")

    def profile_owner(self, distinct_id: str, ignore_alias: bool) -> str:
        if distinct_id.startswith(DEVICE_PREFIX):
            return self._store.device_user(distinct_id[len(DEVICE_PREFIX) :]) or distinct_id
        return distinct_id

    def person(self, distinct_id: str) -> PersonIds | None:
        owner = self.profile_owner(distinct_id, ignore_alias=False)
        if not self._store.seen(owner):
            return None
        return self.person_at(owner)

    def person_at(self, key: str) -> PersonIds:
        if key.startswith(DEVICE_PREFIX):
            user = self._store.device_user(key[len(DEVICE_PREFIX) :])
            if user is None:
                return PersonIds(key, (key,), (key,), (key,))
            key = user
        ids = (key, *(DEVICE_PREFIX + device for device in self._store.devices_of(key)))
        return PersonIds(key, ids, ids, (key,))  # MI17: device profiles are never merged
