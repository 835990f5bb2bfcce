"""Merge requests (identity-spec S3–S11): ``$identify``, ``$create_alias``, ``$merge_dangerously``.

Each request that gets past S4 is recorded in the journal with its outcome, so the explorer can
show which event made a person and which were refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from .._identity.ids import merge_refusal_reason
from ._capture import CapturedEvent
from ._ids import js_string, person_uuid
from ._models import MergeOutcome
from ._properties import creation_properties, creation_sources
from ._storage import PersonRow, Store
from ._time import start_of_hour

__all__ = ["Merger", "last_seen", "merge_source"]

Warn = Callable[[str, dict[str, Any], CapturedEvent], None]


def merge_source(event: str, properties: Mapping[str, Any]) -> str | None:
    """S3: the distinct id an event asks to merge into its own, read as JavaScript's String()."""
    if event in ("$create_alias", "$merge_dangerously") and _truthy(properties.get("alias")):
        return js_string(properties["alias"])
    if event == "$identify" and "$anon_distinct_id" in properties:
        return js_string(properties["$anon_distinct_id"])
    return None


def last_seen(event: CapturedEvent, properties: Mapping[str, Any]) -> datetime | None:
    """S22: the hour an event marks its person as last seen, or None if it asks not to."""
    if properties.get("$update_person_last_seen_at") is False:
        return None
    return start_of_hour(event.timestamp)


def _truthy(value: object) -> bool:
    # JavaScript truthiness: "", 0, null and false are falsy; every object and list is truthy
    return isinstance(value, (Mapping, list)) or bool(value)


class Merger:
    """Applies S4–S11 inside the request's transaction."""

    def __init__(self, store: Store, team_id: int, warn: Warn) -> None:
        self._store = store
        self._team_id = team_id
        self._warn = warn

    def merge(
        self,
        other: str,
        event: CapturedEvent,
        properties: Mapping[str, Any],
        origin: Mapping[str, str],
    ) -> tuple[PersonRow | None, bool]:
        """Merge ``other`` into the event's distinct id.

        Returns the person the event's updates then apply to (None: resolve it as for any
        event) and whether that person becomes identified (S6).
        """
        into = event.distinct_id
        if other == into:  # S4
            return None, False
        for illegal, legal in ((into, other), (other, into)):  # S5: the target is checked first
            if merge_refusal_reason(illegal) is not None:
                kind = "cannot_merge_with_illegal_distinct_id"
                details = {"illegalDistinctId": illegal, "otherDistinctId": legal}
                self._warn(kind, {**details, "eventUuid": event.uuid}, event)
                self._record(event, other, "refused", warning=kind)
                return None, False
        source = self._store.person_for(other)
        target = self._store.person_for(into)
        if source is not None and target is not None:
            if source.id == target.id:  # S9
                self._record(event, other, "already_merged", target=target)
            else:
                self._merge_persons(source, target, other, event)
            return target, True
        if source is not None or target is not None:  # S8: the id without a person joins
            existing, joining = (source, into) if source is not None else (target, other)
            assert existing is not None
            self._store.add_distinct_id(existing.id, joining)
            self._record(event, other, "attached", target=existing)
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
            last_seen(event, properties),
            [primary, secondary],
            creation_sources(properties, origin),
        )
        self._record(event, other, "created", target=created)
        return created, True

    def _merge_persons(
        self, source: PersonRow, target: PersonRow, other: str, event: CapturedEvent
    ) -> None:
        """S10/S11: merge two persons into the target, unless the source is already identified."""
        if event.event != "$merge_dangerously" and source.is_identified:
            kind = "cannot_merge_already_identified"
            details = {"sourcePersonDistinctId": other, "targetPersonDistinctId": event.distinct_id}
            self._warn(kind, {**details, "eventUuid": event.uuid}, event)
            self._record(event, other, "refused", warning=kind, target=target, source=source)
            return
        # the target survives and wins conflicts; the event's own updates are applied after
        target.properties = {**source.properties, **target.properties}
        target.sources = {
            key: origin
            for key, origin in {**source.sources, **target.sources}.items()
            if key in target.properties
        }
        target.created_at = min(target.created_at, source.created_at)
        target.is_identified = True  # part of the merge's own write (S11)
        target.version = max(target.version, source.version)  # save_person adds the 1
        self._store.save_person(target)
        self._store.merge_persons(source.id, target.id)
        self._record(event, other, "merged", target=target, source=source)

    def _record(
        self,
        event: CapturedEvent,
        other: str,
        outcome: MergeOutcome,
        *,
        warning: str | None = None,
        target: PersonRow | None = None,
        source: PersonRow | None = None,
    ) -> None:
        self._store.journal.add_merge(
            event.event,
            event.uuid,
            event.distinct_id,
            other,
            outcome,
            event.timestamp,
            warning=warning,
            target_person_uuid=None if target is None else target.uuid,
            source_person_uuid=None if source is None else source.uuid,
        )
