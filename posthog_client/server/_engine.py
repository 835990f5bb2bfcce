"""The person-resolution engine: PostHog's ingestion rules (identity-spec S1–S27) on SQLite.

Usable without HTTP: the local server and the in-memory test recorder both feed it raw events
in PostHog's wire shape. Events are processed in arrival order (one request = one transaction,
serialised by one lock); ``shuffle=True`` interleaves a request's distinct ids at random while
keeping each id's own order, as PostHog's per-distinct-id Kafka partitioning may (S27, A12).
An event's person is resolved when it is read, so a merged person's history holds the events
of every distinct id it ever had (A13).
"""

from __future__ import annotations

import os
import random
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from .._log import logger
from ._capture import CapturedEvent, capture_events, parse_sent_at
from ._ids import person_uuid
from ._models import (
    Group,
    IngestionWarning,
    IngestResult,
    MergeRecord,
    Person,
    PersonMode,
    PropertySource,
    StoredEvent,
)
from ._rules import EventProcessor
from ._sqlite import SQLiteEngine
from ._storage import EventRow, PersonRow, Store
from ._time import UTC, stored_time

__all__ = ["PersonEngine"]


class PersonEngine(SQLiteEngine[Store]):
    """Applies PostHog's person rules to ingested events and answers questions about persons.

    ``db_path`` is a SQLite file, or ``":memory:"`` (the default) for a throwaway store.
    ``team_id`` feeds person UUIDs (``uuid5(namespace, "<team_id>:<distinct_id>")``, S1).
    ``shuffle`` (with an optional ``seed``) processes each request's distinct ids in a random
    interleaving to surface event-ordering bugs (S27). Thread-safe: every call holds one lock.
    Close it with ``close()`` or use it in a ``with`` block.

    >>> engine = PersonEngine()
    >>> engine.ingest([{"event": "$pageview", "distinct_id": "anon-1"}]).stored
    1
    >>> _ = engine.ingest([{"event": "$identify", "distinct_id": "user-1",
    ...                     "properties": {"$anon_distinct_id": "anon-1"}}])
    >>> engine.person("user-1").distinct_ids
    ('anon-1', 'user-1')
    >>> [e.event for e in engine.events("user-1")]
    ['$identify', '$pageview']
    >>> engine.close()
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] = ":memory:",
        *,
        team_id: int = 1,
        shuffle: bool = False,
        seed: int | None = None,
    ) -> None:
        self.team_id = team_id
        self.shuffle = shuffle
        self._random = random.Random(seed)
        super().__init__(Store(db_path))

    def ingest(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        sent_at: str | datetime | None = None,
        now: datetime | None = None,
    ) -> IngestResult:
        """Ingest one request's events atomically and return what happened.

        Every event is checked first, as PostHog's capture does: one without an event name or
        with an empty distinct id raises ``RequestRejectedError`` and nothing is stored. Then all
        are applied in one transaction; events whose uuid is already stored are skipped.
        ``sent_at`` is the request's send time, used to correct the client's clock skew (S26);
        ``now`` replaces the server clock (for tests).
        """
        received_at = now or datetime.now(UTC)
        captured = capture_events(list(events), sent_at=parse_sent_at(sent_at), now=received_at)
        with self._lock, self._store.transaction():
            processor = EventProcessor(self._store, self.team_id, received_at)
            for event in self._processing_order(captured):
                processor.process(event)
            if processor.stored or processor.warnings:
                self._revision += 1
        logger.debug(
            "local server: stored %d events (%d duplicates, %d dropped)",
            processor.stored,
            processor.duplicates,
            processor.dropped,
        )
        return IngestResult(
            processor.stored, processor.duplicates, processor.dropped, tuple(processor.warnings)
        )

    def _processing_order(self, events: list[CapturedEvent]) -> list[CapturedEvent]:
        if not self.shuffle:
            return events
        queues: dict[str, deque[CapturedEvent]] = {}
        for event in events:
            queues.setdefault(event.distinct_id, deque()).append(event)
        ordered: list[CapturedEvent] = []
        pending = list(queues)
        while pending:
            distinct_id = self._random.choice(pending)
            ordered.append(queues[distinct_id].popleft())
            if not queues[distinct_id]:
                pending.remove(distinct_id)
        return ordered

    def person(self, distinct_id: str) -> Person | None:
        """The person ``distinct_id`` resolves to now, or None."""
        with self._lock:
            row = self._store.person_for(distinct_id)
            return None if row is None else self._person(row)

    def person_by_uuid(self, uuid: str) -> Person | None:
        """The person with this UUID, or None (also once it was merged into another)."""
        with self._lock:
            row = self._store.person_by_uuid(uuid)
            return None if row is None else self._person(row)

    def persons(
        self, *, limit: int | None = None, offset: int = 0, newest_first: bool = False
    ) -> list[Person]:
        """Persons, oldest first (``newest_first``: the most recently created first)."""
        with self._lock:
            rows = self._store.persons(
                -1 if limit is None else limit, offset, newest_first=newest_first
            )
            return [self._person(row) for row in rows]

    def search_persons(
        self, text: str, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[Person], int]:
        """Persons whose uuid is ``text`` or one of whose distinct ids or property values
        contains it (``key=value``: that property equals value), newest first; and how many."""
        with self._lock:
            rows, total = self._store.search_persons(text, limit, offset)
            return [self._person(row) for row in rows], total

    def merges(self, person_uuid: str, *, limit: int = 200) -> list[MergeRecord]:
        """The newest merge requests naming any distinct id of the person, refusals included."""
        with self._lock:
            row = self._store.person_by_uuid(person_uuid)
            return [] if row is None else self._store.journal.merges_of_person(row.id, limit)

    def merged_into(self, person_uuid: str) -> str | None:
        """The uuid of the person a person (now gone) was merged into, if it was."""
        with self._lock:
            return self._store.journal.merged_into(person_uuid)

    def count_persons(self) -> int:
        """How many persons exist."""
        with self._lock:
            return self._store.count_persons()

    def events(
        self,
        distinct_id: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        oldest_first: bool = False,
    ) -> list[StoredEvent]:
        """Events newest first: the whole history of ``distinct_id``'s person, or all events.

        The history covers every distinct id the person has now, including events sent before
        a merge and personless events (S18). A distinct id without a person gets its own events.
        """
        with self._lock:
            owner = self._owner(distinct_id)
            rows = self._store.events(
                owner, -1 if limit is None else limit, offset, oldest_first=oldest_first
            )
            return [self._event(row) for row in rows]

    def count_events(self, distinct_id: str | None = None) -> int:
        """How many events ``events(distinct_id)`` holds without a limit."""
        with self._lock:
            return self._store.count_events(self._owner(distinct_id))

    def warnings(
        self, *, limit: int | None = None, offset: int = 0, newest_first: bool = False
    ) -> list[IngestionWarning]:
        """Ingestion warnings, oldest first (or ``newest_first``)."""
        with self._lock:
            return self._store.journal.warnings(
                -1 if limit is None else limit, offset, newest_first=newest_first
            )

    def count_warnings(self) -> int:
        """How many ingestion warnings were raised."""
        with self._lock:
            return self._store.journal.count_warnings()

    def person_warnings(self, person_uuid: str, *, limit: int = 200) -> list[IngestionWarning]:
        """The newest warnings raised by events of any distinct id the person has now."""
        with self._lock:
            row = self._store.person_by_uuid(person_uuid)
            return [] if row is None else self._store.journal.warnings_of_person(row.id, limit)

    def groups(self) -> list[Group]:
        """Every group known from ``$groupidentify`` events."""
        with self._lock:
            return [
                Group(group_type, index, key, properties, stored_time(created_at))
                for group_type, index, key, properties, created_at in self._store.groups.all()
            ]

    def group_types(self) -> dict[int, str]:
        """The group types seen so far, by index (at most five, G4)."""
        with self._lock:
            return self._store.groups.types()

    def group_properties(self, group_type: str, group_key: str) -> dict[str, Any] | None:
        """A group's properties (G5), or None if it was never identified."""
        with self._lock:
            return self._store.groups.properties(group_type, group_key)

    def _owner(self, distinct_id: str | None) -> int | str | None:
        if distinct_id is None:
            return None
        person = self._store.person_for(distinct_id)
        return distinct_id if person is None else person.id

    def _person(self, row: PersonRow) -> Person:
        return Person(
            uuid=row.uuid,
            distinct_ids=tuple(self._store.distinct_ids_of(row.id)),
            properties=row.properties,
            is_identified=row.is_identified,
            created_at=stored_time(row.created_at),
            last_seen_at=None if row.last_seen_at is None else stored_time(row.last_seen_at),
            version=row.version,
            property_sources={
                key: PropertySource(
                    source.get("op", "?"),
                    source.get("event", "?"),
                    source.get("uuid", ""),
                    stored_time(source["at"]),
                )
                for key, source in row.sources.items()
            },
        )

    def _event(self, row: EventRow) -> StoredEvent:
        return StoredEvent(
            uuid=row.uuid,
            event=row.event,
            distinct_id=row.distinct_id,
            properties=row.properties,
            timestamp=stored_time(row.timestamp),
            # a distinct id without a person belongs to a virtual person with its uuid5 (S17)
            person_uuid=row.person_uuid or person_uuid(self.team_id, row.distinct_id),
            person_mode=cast(PersonMode, row.person_mode),
            received_at=stored_time(row.received_at),
        )
