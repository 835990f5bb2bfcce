"""What the Mixpanel engine returns: persons, stored events, refusals, groups, ingestion reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final, Literal, TypeAlias

from .._records import record_json

__all__ = [
    "ID_MERGE_MODELS",
    "Endpoint",
    "FailedRecord",
    "IdMerge",
    "IngestReport",
    "MixpanelEvent",
    "MixpanelGroup",
    "MixpanelPerson",
    "Refusal",
    "from_ms",
]


def from_ms(epoch_ms: int) -> datetime:
    """A stored time (epoch milliseconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")  # Mixpanel keeps milliseconds


IdMerge: TypeAlias = Literal["legacy", "original", "simplified"]
"""A Mixpanel project's identity model (MI1): no ID merge, Original or Simplified ID Merge."""
ID_MERGE_MODELS: Final[tuple[IdMerge, ...]] = ("legacy", "original", "simplified")

Endpoint: TypeAlias = Literal["track", "import", "engage", "groups"]
"""The ingestion routes, by path without slashes."""


@dataclass(frozen=True)
class MixpanelPerson:
    """A user as the model resolves it now: its canonical id, every id of it, its profile.

    Legacy: the id events are stored under and the aliases resolving to it. Original: the
    cluster (canonical = earliest identified id, else earliest id; MS14). Simplified: the
    ``$user_id`` and its ``"$device:D"`` ids, or one unlinked device id.
    """

    distinct_id: str
    distinct_ids: tuple[str, ...]
    properties: dict[str, Any]
    has_profile: bool
    stored_under: tuple[str, ...] = field(default=(), compare=False)
    """The ids its events are stored under (``MixpanelEngine.events(person)`` reads them)."""

    def to_json(self) -> dict[str, Any]:
        """The person as a query API returns it."""
        return {
            "distinct_id": self.distinct_id,
            "distinct_ids": list(self.distinct_ids),
            "properties": self.properties,
            "has_profile": self.has_profile,
        }


@dataclass(frozen=True)
class MixpanelEvent:
    """A stored event; ``distinct_id`` is the id it is stored under, ``sent_distinct_id`` the
    one it arrived with (legacy and simplified rewrite it at ingestion, MS8/MS15)."""

    event: str
    distinct_id: str
    sent_distinct_id: str
    properties: dict[str, Any]
    time: datetime
    insert_id: str
    failure: str | None
    """The identity refusal this event carries, if any (``$failure_reason``…)."""

    def to_json(self) -> dict[str, Any]:
        """The event as a query API returns it."""
        return record_json(self, _iso)


@dataclass(frozen=True)
class Refusal:
    """An identity event that changed nothing, and why (``errAliasAlreadyExists``…)."""

    event: str
    distinct_id: str
    reason: str
    description: str
    time: datetime

    def to_json(self) -> dict[str, Any]:
        """The refusal as a query API returns it."""
        return record_json(self, _iso)


@dataclass(frozen=True)
class MixpanelGroup:
    """A group profile from ``/groups`` (MA19)."""

    group_key: str
    group_id: str
    properties: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The group as a query API returns it."""
        return {"group_key": self.group_key, "group_id": self.group_id, **self.properties}


@dataclass(frozen=True)
class FailedRecord:
    """One record a request could not ingest, in ``/import``'s ``failed_records`` shape (MA15)."""

    index: int
    insert_id: str | None
    field: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return record_json(self, _iso)


@dataclass(frozen=True)
class IngestReport:
    """What one request did: the HTTP layer turns it into Mixpanel's answer."""

    records: int
    """Records the request held."""
    imported: int = 0
    """Valid records kept: stored, or replacing a stored duplicate."""
    duplicates: int = 0
    """Events equal on ``(event, distinct_id, time, $insert_id)`` to a stored one (MA10)."""
    failed: tuple[FailedRecord, ...] = ()
    """Records that failed validation."""
    dropped: Mapping[str, int] = field(default_factory=dict)
    """Valid records dropped on purpose, by reason: ``token``, ``expired``, ``ignored``."""
    refusals: tuple[Refusal, ...] = ()
    """Identity events of this request that changed nothing."""
