"""What an event carries and under which distinct id: device events (desktop and CLI apps) and
context events (backend requests); identity-spec R29–R31, R35, R38, R39, W10–W12."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .._config import Options
from .._events.encoding import SharedProperties
from .._events.runtime import system_context
from .._events.uuid7 import uuid7
from . import machine as identity
from .context import RequestContext
from .session import SessionTracker
from .state import IdentityState, StateStore

__all__ = ["EventProperties"]


class _Shared(NamedTuple):
    """What every event of one identity state shares, computed once per state."""

    device: SharedProperties  # SDK context < device id < flags < super properties, encoded
    device_keys: frozenset[str]
    person: bool  # R29 for the state's own distinct id
    may_upgrade: bool  # person processing not yet sticky, and allowed (R30/R31)
    server: dict[str, Any]  # SDK context < super properties: a backend event has no device


class EventProperties:
    """Builds the properties of events; caches what one identity state's events share."""

    def __init__(self, options: Options, store: StateStore, sessions: SessionTracker) -> None:
        self._options = options
        self._store = store
        self._sessions = sessions
        # what the cached part was computed from (the state, the flag properties), and it
        self._shared: tuple[IdentityState, Mapping[str, Any] | None, _Shared] | None = None
        self._flag_properties: Mapping[str, Any] | None = None

    def set_flag_properties(self, properties: Mapping[str, Any] | None) -> None:
        """Flag properties for every later device event (``$feature/<key>``,
        ``$active_feature_flags``): above the SDK's, below super properties and the caller's."""
        self._flag_properties = properties

    def for_device(
        self, properties: Mapping[str, Any] | None, explicit_id: str | None, now_ms: int
    ) -> tuple[str, dict[str, Any], SharedProperties | None]:
        """Distinct id, own properties and shared properties of a device event.

        The shared part (SDK context, device, flags, super properties) is encoded once per
        state; an event whose own keys collide with it gets a merged dict instead (R35: caller
        wins).
        """
        store = self._store
        session_id = self._sessions.session_id(now_ms, active=True)
        state = store.current()
        cached = self._shared
        if cached is not None and cached[0] is state and cached[1] is self._flag_properties:
            shared = cached[2]
        else:
            shared = self._for(state)
        separate: SharedProperties | None = shared.device
        personless = False
        if properties:
            props: dict[str, Any] = {"$session_id": session_id, **properties}
            if not props["$session_id"]:  # SE1: only a non-empty caller session id wins
                props["$session_id"] = session_id
            if not shared.device_keys.isdisjoint(properties):
                props, separate = {**shared.device.properties, **props}, None
            personless = _asks_personless(properties)
        else:
            props = {"$session_id": session_id}
        if explicit_id is None:
            distinct_id, identified = state.distinct_id, state.identified
            person = shared.person and not personless
            if (
                shared.may_upgrade
                and not personless
                and (person or (properties and ("$set" in properties or "$set_once" in properties)))
            ):  # R30/R31: person processing sticks once an event asked for it
                person = True
                store.transact(lambda s: (s._replace(person_processing=True), None))
        else:
            distinct_id, identified = explicit_id, True
            person = self._options.person_profiles != "never" and not personless
            if self._options.mixpanel_token is not None:  # Mixpanel would link the device to
                props = {**shared.device.properties, **props}  # this id (MI14): it carries none
                props.pop("$device_id", None)
                separate = None
        props["$is_identified"] = identified
        props["$process_person_profile"] = person
        return distinct_id, props, separate

    def for_context(
        self,
        context: RequestContext | None,
        properties: Mapping[str, Any] | None,
        explicit_id: str | None,
    ) -> tuple[str, dict[str, Any]]:
        """Distinct id and properties of a backend event: the context's ids (none for a server
        outside a context), never the device's (R38, R39, A23)."""
        props = dict(self._for(self._store.current()).server)
        context_id = session_id = None
        if context is not None:
            context_id, session_id = context.distinct_id, context.session_id
            tags = context.tags  # one snapshot: another thread may tag the context meanwhile
            if tags:
                props.update(tags)
                props["$context_tags"] = sorted(tags)
            if context.groups:
                props["$groups"] = context.groups
        if properties:
            props.update(properties)
            if "$session_id" in properties and not properties["$session_id"]:
                del props["$session_id"]  # SE1: only a non-empty caller session id counts
        if session_id and "$session_id" not in props:
            props["$session_id"] = session_id
        distinct_id = explicit_id or context_id
        person = distinct_id is not None and self._options.person_profiles != "never"
        person = person and not (properties and _asks_personless(properties))
        props["$is_server"] = True  # after caller properties: it cannot be overridden (W11)
        props["$is_identified"] = distinct_id is not None
        props["$process_person_profile"] = person
        return distinct_id or uuid7(), props  # no id: personless, like PostHog's server SDKs

    def _for(self, state: IdentityState) -> _Shared:
        """What events of ``state`` share (cached for the last state and flag properties)."""
        flags = self._flag_properties
        cached = self._shared
        if cached is not None and cached[0] is state and cached[1] is flags:
            return cached[2]
        sdk: dict[str, Any] = dict(system_context())
        if self._options.disable_geoip:  # W12: else the server's address locates users
            sdk["$geoip_disable"] = True
        supers = {**self._options.super_properties, **state.super_properties}
        device = {**sdk, "$device_id": state.device_id, **(flags or {}), **supers}
        shared = _Shared(
            device=SharedProperties(device),
            device_keys=frozenset(device),
            person=identity.has_person_processing(state, self._options.person_profiles),
            may_upgrade=not state.person_processing and self._options.person_profiles != "never",
            server={**sdk, **supers},
        )
        self._shared = (state, flags, shared)
        return shared


def _asks_personless(properties: Mapping[str, Any]) -> bool:
    """The caller sent ``$process_person_profile: False``: this one event is personless.

    The SDK decides person processing after the caller's properties (R30), with one exception:
    a caller may always turn it off for an event (posthog-python's personless events, capture
    v1's ``process_person_profile`` option); turning it on is R31's ``$set``.
    """
    return properties.get("$process_person_profile") is False
