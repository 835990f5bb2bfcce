"""PostHog's ingestion rules for one event at a time (identity-spec §3, S2–S22).

``EventProcessor`` works inside the transaction the engine opened for one request and
records what happened (counts, ingestion warnings) for the engine's result. Normalisation is
in ``_normalize``, merges in ``_merges``, the property algebra in ``_properties``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from .._events.timestamps import format_timestamp
from ._capture import CapturedEvent
from ._ids import js_string, person_uuid
from ._merges import Merger, last_seen, merge_source
from ._models import IngestionWarning, PersonMode
from ._normalize import (
    INVALID_FLAG_MESSAGE,
    NO_PERSON_UPDATE_EVENTS,
    PERSON_ONLY_EVENTS,
    normalize_properties,
    person_processing,
)
from ._properties import (
    apply_updates,
    compute_updates,
    creation_properties,
    creation_sources,
    updated_sources,
)
from ._storage import PersonRow, Store
from ._time import stored_time

__all__ = ["EventProcessor"]

_FORCE_UPGRADE_AFTER: Final = timedelta(minutes=1)


class EventProcessor:
    """Applies the rules to the events of one request, in the order they are given."""

    def __init__(self, store: Store, team_id: int, received_at: datetime) -> None:
        self._store = store
        self._team_id = team_id
        self._merger = Merger(store, team_id, self._warn)
        self.received_at = received_at
        self.stored = 0
        self.duplicates = 0
        self.dropped = 0
        self.warnings: list[IngestionWarning] = []

    def process(self, event: CapturedEvent) -> None:
        """Apply every rule to ``event`` and store it (unless it is a duplicate or dropped)."""
        if self._store.has_event(event.uuid):
            self.duplicates += 1
            return
        if event.invalid_timestamp is not None:
            reason = "the timestamp could not be parsed; the receive time was used"
            details = {"field": "timestamp", "value": event.invalid_timestamp, "reason": reason}
            self._warn("ignored_invalid_timestamp", {"eventUuid": event.uuid, **details}, event)
        properties = dict(event.properties)
        process_person, valid_flag = person_processing(properties)
        if not valid_flag:  # S15
            details = {"$process_person_profile": properties["$process_person_profile"]}
            self._warn(
                "invalid_process_person_profile",
                {**self._who(event), **details, "message": INVALID_FLAG_MESSAGE},
                event,
            )
        if not process_person and event.event in PERSON_ONLY_EVENTS:  # S16
            self._warn(
                "invalid_event_when_process_person_profile_is_false", self._who(event), event
            )
            self.dropped += 1
            return
        normalize_properties(event.event, properties, process_person)
        if process_person:
            self._add_group_columns(properties)
        if event.event == "$groupidentify":
            self._group_identify(properties, event.timestamp)
        mode: PersonMode = "full"
        if process_person:
            self._process_person(event, properties)
        else:
            mode = self._process_personless(event, properties)
        self._store.insert_event(
            event.uuid,
            event.event,
            event.distinct_id,
            properties,
            event.timestamp,
            mode,
            self.received_at,
        )
        self.stored += 1

    def _process_personless(self, event: CapturedEvent, properties: dict[str, Any]) -> PersonMode:
        """S17: no person is created or changed, except that an existing person created more
        than a minute before the event is "force upgraded" (processed without the stripped sets)."""
        self._store.mark_personless(event.distinct_id)
        person = self._store.person_for(event.distinct_id)
        if (
            person is None
            or event.timestamp <= stored_time(person.created_at) + _FORCE_UPGRADE_AFTER
        ):
            return "propertyless"
        if _touch_last_seen(person, event, properties):
            self._store.save_person(person)
        return "force_upgrade"

    def _process_person(self, event: CapturedEvent, properties: dict[str, Any]) -> None:
        origin = {"event": event.event, "uuid": event.uuid, "at": format_timestamp(event.timestamp)}
        other = merge_source(event.event, properties)
        person, identified = (
            self._merger.merge(other, event, properties, origin)
            if other is not None
            else (None, False)
        )
        if person is None:
            person = self._store.person_for(event.distinct_id)
        if person is None:  # S2
            self._create_person(event, properties, origin)
            return
        # S12/S13 against the pre-event snapshot, S6 is_identified, S22 last_seen_at; events
        # PostHog processes apart ($exception, $$heatmap) never change properties
        to_set, to_unset = (
            ({}, []) if event.event in NO_PERSON_UPDATE_EVENTS
            else compute_updates(properties, person.properties)
        )  # fmt: skip
        changed = bool(to_set or to_unset) or (identified and not person.is_identified)
        person.sources = updated_sources(person.sources, properties, origin, to_set, to_unset)
        person.properties = apply_updates(person.properties, to_set, to_unset)
        person.is_identified = person.is_identified or identified
        if _touch_last_seen(person, event, properties) or changed:
            self._store.save_person(person)

    def _create_person(
        self, event: CapturedEvent, properties: Mapping[str, Any], origin: Mapping[str, str]
    ) -> None:
        """S2, then PostHog's warning when the new id differs from an existing one only by case."""
        lowercase = event.distinct_id.lower()
        twin = None if lowercase == event.distinct_id else self._store.person_for(lowercase)
        self._store.create_person(
            person_uuid(self._team_id, event.distinct_id),
            creation_properties(properties, event.uuid),
            False,
            event.timestamp,
            last_seen(event, properties),
            [event.distinct_id],
            creation_sources(properties, origin),
        )
        if twin is not None:
            details = {"distinctId": event.distinct_id, "existingDistinctId": lowercase}
            details.update(personId=twin.uuid, eventUuid=event.uuid)
            self._warn("distinct_id_case_collision", details, event)

    def _add_group_columns(self, properties: dict[str, Any]) -> None:
        """S19: ``$groups`` of known group types become ``$group_<index>`` properties."""
        groups = properties.get("$groups")
        if not isinstance(groups, Mapping):
            return
        for group_type, group_key in groups.items():
            index = self._store.groups.type_index(str(group_type))
            if index is not None:
                properties[f"$group_{index}"] = group_key

    def _group_identify(self, properties: Mapping[str, Any], timestamp: datetime) -> None:
        """S19: group properties come from ``$group_set``; the person is never touched."""
        group_type, group_key = properties.get("$group_type"), properties.get("$group_key")
        if group_type is None or group_key is None:
            return
        index = self._store.groups.type_index(js_string(group_type))
        group_set = properties.get("$group_set")
        if index is not None:
            updates = dict(group_set) if isinstance(group_set, Mapping) else {}
            self._store.groups.upsert(index, js_string(group_key), updates, timestamp)

    @staticmethod
    def _who(event: CapturedEvent) -> dict[str, Any]:
        return {"eventUuid": event.uuid, "event": event.event, "distinctId": event.distinct_id}

    def _warn(self, kind: str, details: dict[str, Any], event: CapturedEvent) -> None:
        self._store.journal.add_warning(
            kind,
            details,
            self.received_at,
            event_uuid=event.uuid,
            distinct_id=event.distinct_id,
        )
        self.warnings.append(IngestionWarning(kind, details, self.received_at))


def _touch_last_seen(
    person: PersonRow, event: CapturedEvent, properties: Mapping[str, Any]
) -> bool:
    """S22: move ``last_seen_at`` forward to the event's hour; True if it moved."""
    seen = last_seen(event, properties)
    if seen is None:
        return False
    text = format_timestamp(seen)
    if person.last_seen_at is not None and text <= person.last_seen_at:
        return False
    person.last_seen_at = text
    return True
