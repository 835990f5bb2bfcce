"""PostHog's ingestion rules for one event at a time (identity-spec §3, S2–S22).

``EventProcessor`` works inside the transaction the engine opened for one request and
records what happened (counts, ingestion warnings) for the engine's result.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from .._events.timestamps import format_timestamp
from .._identity.ids import merge_refusal_reason
from ._capture import CapturedEvent
from ._ids import js_string
from ._models import IngestionWarning, PersonMode
from ._properties import add_initial_properties, apply_updates, compute_updates, creation_properties
from ._storage import PersonRow, Store
from ._time import parse_timestamp, start_of_hour

__all__ = ["PERSON_UUID_NAMESPACE", "EventProcessor", "person_uuid", "stored_time"]

PERSON_UUID_NAMESPACE: Final = uuid.UUID("932979b4-65c3-4424-8467-0b66ec27bc22")
"""PostHog's uuid5 namespace for person UUIDs (S1)."""

# events that only make sense with a person: dropped when sent personless (S16)
_PERSON_ONLY_EVENTS: Final = frozenset(
    {"$identify", "$create_alias", "$merge_dangerously", "$groupidentify"}
)
_FORCE_UPGRADE_AFTER: Final = timedelta(minutes=1)


def person_uuid(team_id: int, distinct_id: str) -> str:
    """The UUID PostHog gives the person first created for ``distinct_id`` (S1)."""
    return str(uuid.uuid5(PERSON_UUID_NAMESPACE, f"{team_id}:{distinct_id}"))


def stored_time(text: str) -> datetime:
    """A timestamp read back from the store."""
    parsed = parse_timestamp(text)
    assert parsed is not None, "the store only holds timestamps it formatted"
    return parsed


class EventProcessor:
    """Applies the rules to the events of one request, in the order they are given."""

    def __init__(self, store: Store, team_id: int, received_at: datetime) -> None:
        self._store = store
        self._team_id = team_id
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
            self._warn(
                "ignored_invalid_timestamp",
                {
                    "eventUuid": event.uuid,
                    "field": "timestamp",
                    "value": event.invalid_timestamp,
                    "reason": "the timestamp could not be parsed; the receive time was used",
                },
            )
        properties = dict(event.properties)
        process_person = self._process_person_flag(event, properties)
        if not process_person and event.event in _PERSON_ONLY_EVENTS:  # S16
            self._warn(
                "invalid_event_when_process_person_profile_is_false",
                {"eventUuid": event.uuid, "event": event.event, "distinctId": event.distinct_id},
            )
            self.dropped += 1
            return
        if process_person:
            add_initial_properties(properties)
            self._add_group_columns(properties)
        if not process_person or event.event == "$groupidentify":  # S17, S19
            for key in ("$set", "$set_once", "$unset"):
                properties.pop(key, None)
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

    def _process_person_flag(self, event: CapturedEvent, properties: dict[str, Any]) -> bool:
        """S15: only a JSON ``false`` turns person processing off; other non-booleans warn."""
        value = properties.get("$process_person_profile", True)
        if value is False:
            return False
        if value is not True:
            self._warn(
                "invalid_process_person_profile",
                {
                    "eventUuid": event.uuid,
                    "event": event.event,
                    "distinctId": event.distinct_id,
                    "$process_person_profile": value,
                    "message": "Only a boolean value is valid for $process_person_profile",
                },
            )
        return True

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
        if _touch_last_seen(person, event.timestamp, properties):
            self._store.save_person(person)
        return "force_upgrade"

    def _process_person(self, event: CapturedEvent, properties: dict[str, Any]) -> None:
        other = _merge_source(event.event, properties)
        person, identified = (
            self._merge(other, event, properties) if other is not None else (None, False)
        )
        if person is None:
            person = self._store.person_for(event.distinct_id)
        if person is None:  # S2
            self._store.create_person(
                person_uuid(self._team_id, event.distinct_id),
                creation_properties(properties, event.uuid),
                identified,
                event.timestamp,
                _last_seen(event.timestamp, properties),
                [event.distinct_id],
            )
            return
        # S12/S13 against the pre-event snapshot, S6 is_identified, S22 last_seen_at
        to_set, to_unset = compute_updates(properties, person.properties)
        changed = bool(to_set or to_unset) or (identified and not person.is_identified)
        person.properties = apply_updates(person.properties, to_set, to_unset)
        person.is_identified = person.is_identified or identified
        if _touch_last_seen(person, event.timestamp, properties) or changed:
            self._store.save_person(person)

    def _merge(
        self, other: str, event: CapturedEvent, properties: Mapping[str, Any]
    ) -> tuple[PersonRow | None, bool]:
        """Merge ``other`` into the event's distinct id (S4–S11).

        Returns the person the event's updates then apply to (None: resolve it as for any
        event) and whether that person becomes identified (S6).
        """
        into = event.distinct_id
        if other == into:  # S4
            return None, False
        for illegal, legal in ((into, other), (other, into)):  # S5: the target is checked first
            if merge_refusal_reason(illegal) is not None:
                self._warn(
                    "cannot_merge_with_illegal_distinct_id",
                    {
                        "illegalDistinctId": illegal,
                        "otherDistinctId": legal,
                        "eventUuid": event.uuid,
                    },
                )
                return None, False
        source = self._store.person_for(other)
        target = self._store.person_for(into)
        if source is not None and target is not None:
            if source.id != target.id:  # else S9: nothing to merge
                self._merge_persons(source, target, other, event)
            return target, True
        if source is not None or target is not None:  # S8: the id without a person joins
            existing, joining = (source, into) if source is not None else (target, other)
            assert existing is not None
            self._store.add_distinct_id(existing.id, joining)
            return existing, True
        # S7: one new person owns both ids. Its uuid comes from the target id, unless only the
        # other id was used personless: its events already carry uuid5(other) (S1, S18).
        primary, secondary = into, other
        if self._store.was_personless(other) and not self._store.was_personless(into):
            primary, secondary = other, into
        created = self._store.create_person(
            person_uuid(self._team_id, primary),
            creation_properties(properties, event.uuid),
            True,
            event.timestamp,
            _last_seen(event.timestamp, properties),
            [primary, secondary],
        )
        return created, True

    def _merge_persons(
        self, source: PersonRow, target: PersonRow, other: str, event: CapturedEvent
    ) -> None:
        """S10/S11: merge two persons into the target, unless the source is already identified."""
        if event.event != "$merge_dangerously" and source.is_identified:
            self._warn(
                "cannot_merge_already_identified",
                {
                    "sourcePersonDistinctId": other,
                    "targetPersonDistinctId": event.distinct_id,
                    "eventUuid": event.uuid,
                },
            )
            return
        # the target survives and wins conflicts; the event's own updates are applied after
        target.properties = {**source.properties, **target.properties}
        target.created_at = min(target.created_at, source.created_at)
        target.version = max(target.version, source.version) + 1
        self._store.save_person(target)
        self._store.merge_persons(source.id, target.id)

    def _add_group_columns(self, properties: dict[str, Any]) -> None:
        """S19: ``$groups`` of known group types become ``$group_<index>`` properties."""
        groups = properties.get("$groups")
        if not isinstance(groups, Mapping):
            return
        for group_type, group_key in groups.items():
            index = self._store.group_type_index(str(group_type))
            if index is not None:
                properties[f"$group_{index}"] = group_key

    def _group_identify(self, properties: Mapping[str, Any], timestamp: datetime) -> None:
        """S19: group properties come from ``$group_set``; the person is never touched."""
        group_type, group_key = properties.get("$group_type"), properties.get("$group_key")
        if group_type is None or group_key is None:
            return
        index = self._store.group_type_index(js_string(group_type))
        group_set = properties.get("$group_set")
        if index is not None:
            updates = dict(group_set) if isinstance(group_set, Mapping) else {}
            self._store.upsert_group(index, js_string(group_key), updates, timestamp)

    def _warn(self, kind: str, details: dict[str, Any]) -> None:
        self._store.add_warning(kind, details, self.received_at)
        self.warnings.append(IngestionWarning(kind, details, self.received_at))


def _merge_source(event: str, properties: Mapping[str, Any]) -> str | None:
    """S3: the distinct id an event asks to merge into its own, read as JavaScript's String()."""
    if event in ("$create_alias", "$merge_dangerously") and _truthy(properties.get("alias")):
        return js_string(properties["alias"])
    if event == "$identify" and "$anon_distinct_id" in properties:
        return js_string(properties["$anon_distinct_id"])
    return None


def _truthy(value: object) -> bool:
    # JavaScript truthiness: "", 0, null and false are falsy; every object and list is truthy
    return isinstance(value, (Mapping, list)) or bool(value)


def _last_seen(timestamp: datetime, properties: Mapping[str, Any]) -> datetime | None:
    if properties.get("$update_person_last_seen_at") is False:
        return None
    return start_of_hour(timestamp)


def _touch_last_seen(person: PersonRow, timestamp: datetime, properties: Mapping[str, Any]) -> bool:
    """S22: move ``last_seen_at`` forward to the event's hour; True if it moved."""
    seen = _last_seen(timestamp, properties)
    if seen is None:
        return False
    text = format_timestamp(seen)
    if person.last_seen_at is not None and text <= person.last_seen_at:
        return False
    person.last_seen_at = text
    return True
