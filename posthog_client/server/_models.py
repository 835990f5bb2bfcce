"""What the local server's engine returns: persons, stored events, ingestion warnings, groups."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeAlias

from .._events.timestamps import format_timestamp

__all__ = [
    "Group",
    "IngestResult",
    "IngestionWarning",
    "Person",
    "PersonMode",
    "RequestRejectedError",
    "StoredEvent",
]

PersonMode: TypeAlias = Literal["full", "propertyless", "force_upgrade"]
"""How ingestion treated the person of an event, as PostHog's ``person_mode`` column (S17)."""


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
class Person:
    """A person as it stands now, with every distinct id that resolves to it (oldest first)."""

    uuid: str
    distinct_ids: tuple[str, ...]
    properties: dict[str, Any]
    is_identified: bool
    created_at: datetime
    last_seen_at: datetime | None
    version: int

    def to_json(self) -> dict[str, Any]:
        """The person as the query API returns it."""
        return {
            "uuid": self.uuid,
            "distinct_ids": list(self.distinct_ids),
            "properties": self.properties,
            "is_identified": self.is_identified,
            "created_at": format_timestamp(self.created_at),
            "last_seen_at": None
            if self.last_seen_at is None
            else format_timestamp(self.last_seen_at),
            "version": self.version,
        }


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
        return {
            "uuid": self.uuid,
            "event": self.event,
            "distinct_id": self.distinct_id,
            "properties": self.properties,
            "timestamp": format_timestamp(self.timestamp),
            "person_uuid": self.person_uuid,
            "person_mode": self.person_mode,
            "received_at": format_timestamp(self.received_at),
        }


@dataclass(frozen=True)
class IngestionWarning:
    """One of PostHog's ingestion warnings (S24), e.g. ``cannot_merge_already_identified``."""

    type: str
    details: dict[str, Any]
    timestamp: datetime

    def to_json(self) -> dict[str, Any]:
        """The warning as the query API returns it."""
        return {
            "type": self.type,
            "details": self.details,
            "timestamp": format_timestamp(self.timestamp),
        }


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
