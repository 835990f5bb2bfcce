"""SQLite storage of the local server: persons, their distinct ids, events.

One connection (``_sqlite``), used under the engine's lock; every request is one transaction.
Timestamps are stored as fixed-width UTC text (``_events.timestamps.format_timestamp``), so
they sort as text.
The append-only logs (warnings, merges) and groups live in ``_journal`` and ``_group_store``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeAlias

from .._events.timestamps import format_timestamp
from ._group_store import GroupStore
from ._journal import Journal
from ._schema import IDS_OF_PERSON, create_schema
from ._sqlite import SQLiteStore
from ._strings import dumps, replace_nul

__all__ = ["EventRow", "PersonRow", "Store"]

_EVENT_COLUMNS: Final = """
    e.uuid, e.event, e.distinct_id, e.properties, e.timestamp, e.person_mode, e.received_at, p.uuid
    FROM events e
    LEFT JOIN distinct_ids d ON d.distinct_id = e.distinct_id
    LEFT JOIN persons p ON p.id = d.person_id
"""


_Owner: TypeAlias = int | str | None
"""Whose events: a person's row id, a distinct id without a person, or everybody (None)."""


def _events_filter(owner: _Owner) -> tuple[str, tuple[int | str, ...]]:
    if owner is None:
        return "", ()
    if isinstance(owner, int):
        return f"WHERE e.distinct_id IN ({IDS_OF_PERSON})", (owner,)
    return "WHERE e.distinct_id = ?", (owner,)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _person_properties(properties: dict[str, Any]) -> str:
    # Postgres' jsonb cannot hold NUL: PostHog stores U+FFFD instead (sanitizeJsonbValue)
    text = dumps(properties)
    return dumps(replace_nul(properties)) if "\\u0000" in text else text


@dataclass
class PersonRow:
    """A person as stored; the engine edits it and writes it back with ``Store.save_person``."""

    id: int
    uuid: str
    properties: dict[str, Any]
    is_identified: bool
    created_at: str
    last_seen_at: str | None
    version: int
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    """Property key → ``{"op", "event", "uuid", "at"}``: what last wrote it."""


@dataclass(frozen=True)
class EventRow:
    """An event as stored, with the uuid of the person its distinct id resolves to now (if any)."""

    uuid: str
    event: str
    distinct_id: str
    properties: dict[str, Any]
    timestamp: str
    person_mode: str
    received_at: str
    person_uuid: str | None


class Store(SQLiteStore):
    """Typed access to the tables; the caller serialises calls (one lock)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._db.execute("PRAGMA foreign_keys=ON")
        create_schema(self._db)
        self.journal = Journal(self._db)
        self.groups = GroupStore(self._db)

    # persons

    def person_for(self, distinct_id: str) -> PersonRow | None:
        row = self._db.execute(
            "SELECT p.* FROM persons p JOIN distinct_ids d ON d.person_id = p.id"
            " WHERE d.distinct_id = ?",
            (distinct_id,),
        ).fetchone()
        return None if row is None else self._person(row)

    def person_by_uuid(self, person_uuid: str) -> PersonRow | None:
        row = self._db.execute("SELECT * FROM persons WHERE uuid = ?", (person_uuid,)).fetchone()
        return None if row is None else self._person(row)

    def persons(self, limit: int, offset: int, *, newest_first: bool = False) -> list[PersonRow]:
        order = "id DESC" if newest_first else "created_at, id"
        rows = self._db.execute(
            f"SELECT * FROM persons ORDER BY {order} LIMIT ? OFFSET ?", (limit, offset)
        )
        return [self._person(row) for row in rows]

    def count_persons(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM persons").fetchone()[0])

    def search_persons(self, text: str, limit: int, offset: int) -> tuple[list[PersonRow], int]:
        """Persons newest first whose uuid is ``text``, or one of whose distinct ids or property
        values contains it; ``key=value`` matches one property exactly. Also the total."""
        where, params = self._search_filter(text)
        total = self._db.execute(f"SELECT COUNT(*) FROM persons p WHERE {where}", params)
        rows = self._db.execute(
            f"SELECT p.* FROM persons p WHERE {where} ORDER BY p.id DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [self._person(row) for row in rows], int(total.fetchone()[0])

    @staticmethod
    def _search_filter(text: str) -> tuple[str, tuple[str, ...]]:
        key, equals, value = (part.strip() for part in text.partition("="))
        if equals and key and '"' not in key:
            path = f'$."{key}"'
            value_of = "json_extract(p.properties, ?)"
            return f"{value_of} = ? OR CAST({value_of} AS TEXT) = ?", (path, value, path, value)
        pattern = _like(text)
        return (
            "p.uuid = ? OR p.id IN (SELECT person_id FROM distinct_ids"
            " WHERE distinct_id LIKE ? ESCAPE '\\') OR p.properties LIKE ? ESCAPE '\\'",
            (text, pattern, pattern),
        )

    def distinct_ids_of(self, person_id: int) -> list[str]:
        rows = self._db.execute(f"{IDS_OF_PERSON} ORDER BY rowid", (person_id,))
        return [row[0] for row in rows]

    def create_person(
        self,
        person_uuid: str,
        properties: dict[str, Any],
        is_identified: bool,
        created_at: datetime,
        last_seen_at: datetime | None,
        distinct_ids: list[str],
        sources: dict[str, dict[str, str]],
    ) -> PersonRow:
        seen = None if last_seen_at is None else format_timestamp(last_seen_at)
        cursor = self._db.execute(
            "INSERT INTO persons (uuid, properties, is_identified, created_at, last_seen_at,"
            " version, property_sources) VALUES (?, ?, ?, ?, ?, 0, ?)",
            (
                person_uuid,
                _person_properties(properties),
                is_identified,
                format_timestamp(created_at),
                seen,
                _person_properties(sources),
            ),
        )
        person_id = int(cursor.lastrowid or 0)
        for distinct_id in distinct_ids:
            self.add_distinct_id(person_id, distinct_id)
        return self._person(
            self._db.execute("SELECT * FROM persons WHERE id = ?", (person_id,)).fetchone()
        )

    def save_person(self, person: PersonRow) -> None:
        """Write ``person`` back; every write moves its version by one, as PostHog's does."""
        person.version += 1
        self._db.execute(
            "UPDATE persons SET properties = ?, is_identified = ?, created_at = ?,"
            " last_seen_at = ?, version = ?, property_sources = ? WHERE id = ?",
            (
                _person_properties(person.properties),
                person.is_identified,
                person.created_at,
                person.last_seen_at,
                person.version,
                _person_properties(person.sources),
                person.id,
            ),
        )

    def add_distinct_id(self, person_id: int, distinct_id: str) -> None:
        self._db.execute(
            "INSERT INTO distinct_ids (distinct_id, person_id) VALUES (?, ?)",
            (distinct_id, person_id),
        )

    def merge_persons(self, source_id: int, target_id: int) -> None:
        """Move every distinct id of the source person to the target and delete the source."""
        self._db.execute(
            "UPDATE distinct_ids SET person_id = ? WHERE person_id = ?", (target_id, source_id)
        )
        self._db.execute("DELETE FROM persons WHERE id = ?", (source_id,))

    # personless distinct ids (S17/S18)

    def mark_personless(self, distinct_id: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO personless_distinct_ids (distinct_id) VALUES (?)", (distinct_id,)
        )

    def was_personless(self, distinct_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM personless_distinct_ids WHERE distinct_id = ?", (distinct_id,)
        ).fetchone()
        return row is not None

    # events

    def has_event(self, event_uuid: str) -> bool:
        row = self._db.execute("SELECT 1 FROM events WHERE uuid = ?", (event_uuid,)).fetchone()
        return row is not None

    def insert_event(
        self,
        event_uuid: str,
        event: str,
        distinct_id: str,
        properties: dict[str, Any],
        timestamp: datetime,
        person_mode: str,
        received_at: datetime,
    ) -> None:
        self._db.execute(
            "INSERT INTO events"
            " (uuid, event, distinct_id, properties, timestamp, person_mode, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event_uuid,
                event,
                distinct_id,
                dumps(properties),
                format_timestamp(timestamp),
                person_mode,
                format_timestamp(received_at),
            ),
        )

    def events(
        self, owner: _Owner, limit: int, offset: int, *, oldest_first: bool = False
    ) -> list[EventRow]:
        """Events of a person (its id), of one distinct id, or all (None), newest first."""
        where, params = _events_filter(owner)
        order = "ASC" if oldest_first else "DESC"
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} {where}"
            f" ORDER BY e.timestamp {order}, e.seq {order} LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [EventRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    def count_events(self, owner: _Owner) -> int:
        where, params = _events_filter(owner)
        return int(self._db.execute(f"SELECT COUNT(*) FROM events e {where}", params).fetchone()[0])

    @staticmethod
    def _person(row: tuple[Any, ...]) -> PersonRow:
        person_id, person_uuid, properties, identified, created, seen, version, sources = row
        return PersonRow(
            person_id,
            person_uuid,
            json.loads(properties),
            bool(identified),
            created,
            seen,
            version,
            json.loads(sources),
        )
