"""What the local server's engine returns: persons, stored events, merges, warnings, groups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeAlias

from .._events.timestamps import format_timestamp
from ._records import record_json

__all__ = [
    "Group",
    "IngestResult",
    "IngestionWarning",
    "MergeOutcome",
    "MergeRecord",
    "Person",
    "PersonMode",
    "PropertySource",
    "RequestRejectedError",
    "StoredEvent",
]

PersonMode: TypeAlias = Literal["full", "propertyless", "force_upgrade"]
"""How ingestion treated the person of an event, as PostHog's ``person_mode`` column (S17)."""

MergeOutcome: TypeAlias = Literal["created", "attached", "already_merged", "merged", "refused"]
"""What a merge request did: a new person for both ids (S7), the id without a person joined the
other's (S8), both ids were already one person (S9), two persons merged (S11), or it was refused
with an ingestion warning (S5, S10)."""


class RequestRejectedError(ValueError):
    """PostHog's capture refuses a whole request; nothing from it is stored.

    ``status`` is the HTTP status the server answers (400, 401, 403, 413); ``code`` is PostHog's
    machine-readable reason (``missing_event_name``, ``missing_distinct_id``,
    ``ingest_key_unknown``…); ``index`` is the position of the offending event, if any.
    """

    def __init__(
        self, code: str, message: str, *, status: int = 400, index: int | None = None
    ) -> None:
        super().__init__(message if index is None else f"event {index}: {message}")
        self.status = status
        self.code = code
        self.index = index


@dataclass(frozen=True)
class PropertySource:
    """Where a person property's current value came from."""

    operation: str
    """``$set``, ``$set_once``, or ``created`` for ``$creator_event_uuid``."""
    event: str
    event_uuid: str
    timestamp: datetime

    def to_json(self) -> dict[str, Any]:
        return record_json(self, format_timestamp)


@dataclass(frozen=True)
class Person:
    """A person as it stands now, with every distinct id that resolves to it (oldest first)."""

    uuid: str
    distinct_ids: tuple[str, ...]
    properties: dict[str, Any]
    is_identified: bool
    created_at: datetime
    last_seen_at: datetime | None
    version: int
    property_sources: Mapping[str, PropertySource] = field(default_factory=dict)
    """For each property, the operation and event that last wrote it (absent: not recorded)."""

    def to_json(self) -> dict[str, Any]:
        """The person as the query API returns it."""
        return {
            **record_json(self, format_timestamp),
            "distinct_ids": list(self.distinct_ids),
            "property_sources": {k: v.to_json() for k, v in self.property_sources.items()},
        }


@dataclass(frozen=True)
class MergeRecord:
    """One ``$identify``, ``$create_alias`` or ``$merge_dangerously`` request and its outcome."""

    event: str
    event_uuid: str
    distinct_id: str
    """The event's distinct id: the id merged into."""
    other_distinct_id: str
    """``$anon_distinct_id`` or ``alias``: the id merged in."""
    outcome: MergeOutcome
    warning: str | None
    """The ingestion warning of a refusal."""
    target_person_uuid: str | None
    source_person_uuid: str | None
    """The person merged in and deleted (``merged``), or left alone (``refused``)."""
    timestamp: datetime

    def to_json(self) -> dict[str, Any]:
        """The merge as the query API returns it."""
        return record_json(self, format_timestamp)


@dataclass(frozen=True)
class StoredEvent:
    """An ingested event; ``person_uuid`` is resolved when read, so merges re-attribute history."""

    uuid: str
    event: str
    distinct_id: str
    properties: dict[str, Any]
    timestamp: datetime
    person_uuid: str
    person_mode: PersonMode
    received_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The event as the query API returns it."""
        return record_json(self, format_timestamp)


@dataclass(frozen=True)
class IngestionWarning:
    """One of PostHog's ingestion warnings (S24), e.g. ``cannot_merge_already_identified``."""

    type: str
    details: dict[str, Any]
    timestamp: datetime

    def to_json(self) -> dict[str, Any]:
        """The warning as the query API returns it."""
        return record_json(self, format_timestamp)


@dataclass(frozen=True)
class Group:
    """A group known from ``$groupidentify`` events (S19)."""

    group_type: str
    group_type_index: int
    group_key: str
    properties: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class IngestResult:
    """The outcome of one ``PersonEngine.ingest`` call (one request)."""

    stored: int = 0
    """Events stored."""
    duplicates: int = 0
    """Events skipped because an event with the same uuid was already stored."""
    dropped: int = 0
    """Events ingestion drops with a warning (S16)."""
    warnings: tuple[IngestionWarning, ...] = field(default=())
    """Ingestion warnings this call raised."""
