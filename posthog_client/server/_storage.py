"""SQLite storage of the local server: persons, their distinct ids, events, warnings, groups.

One connection, used under the engine's lock; every request is one explicit transaction.
Timestamps are stored as fixed-width UTC text (``_events.timestamps.format_timestamp``), so
they sort as text.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeAlias

from .._events.timestamps import format_timestamp
from ._schema import SCHEMA

__all__ = ["EventRow", "PersonRow", "Store"]

_MAX_GROUP_TYPES: Final = 5  # $group_0 … $group_4 (S19)
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
        return (
            "WHERE e.distinct_id IN (SELECT distinct_id FROM distinct_ids WHERE person_id = ?)",
            (owner,),
        )
    return "WHERE e.distinct_id = ?", (owner,)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


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


class Store:
    """Typed access to the tables; the caller serialises calls (one lock)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # autocommit mode: transactions are explicit (BEGIN IMMEDIATE … COMMIT), one per request
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside is stored together or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

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

    def persons(self, limit: int, offset: int) -> list[PersonRow]:
        rows = self._db.execute(
            "SELECT * FROM persons ORDER BY created_at, id LIMIT ? OFFSET ?", (limit, offset)
        )
        return [self._person(row) for row in rows]

    def count_persons(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM persons").fetchone()[0])

    def distinct_ids_of(self, person_id: int) -> list[str]:
        rows = self._db.execute(
            "SELECT distinct_id FROM distinct_ids WHERE person_id = ? ORDER BY rowid", (person_id,)
        )
        return [row[0] for row in rows]

    def create_person(
        self,
        person_uuid: str,
        properties: dict[str, Any],
        is_identified: bool,
        created_at: datetime,
        last_seen_at: datetime | None,
        distinct_ids: list[str],
    ) -> PersonRow:
        seen = None if last_seen_at is None else format_timestamp(last_seen_at)
        cursor = self._db.execute(
            "INSERT INTO persons"
            " (uuid, properties, is_identified, created_at, last_seen_at, version)"
            " VALUES (?, ?, ?, ?, ?, 0)",
            (person_uuid, _dumps(properties), is_identified, format_timestamp(created_at), seen),
        )
        person_id = int(cursor.lastrowid or 0)
        for distinct_id in distinct_ids:
            self.add_distinct_id(person_id, distinct_id)
        return self._person(
            self._db.execute("SELECT * FROM persons WHERE id = ?", (person_id,)).fetchone()
        )

    def save_person(self, person: PersonRow) -> None:
        self._db.execute(
            "UPDATE persons SET properties = ?, is_identified = ?, created_at = ?,"
            " last_seen_at = ?, version = ? WHERE id = ?",
            (
                _dumps(person.properties),
                person.is_identified,
                person.created_at,
                person.last_seen_at,
                person.version,
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
                _dumps(properties),
                format_timestamp(timestamp),
                person_mode,
                format_timestamp(received_at),
            ),
        )

    def events(self, owner: _Owner, limit: int, offset: int) -> list[EventRow]:
        """Events of a person (its id), of one distinct id, or all (None), newest first."""
        where, params = _events_filter(owner)
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} {where}"
            " ORDER BY e.timestamp DESC, e.seq DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [EventRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    def count_events(self, owner: _Owner) -> int:
        where, params = _events_filter(owner)
        return int(self._db.execute(f"SELECT COUNT(*) FROM events e {where}", params).fetchone()[0])

    # ingestion warnings

    def add_warning(self, kind: str, details: dict[str, Any], timestamp: datetime) -> None:
        self._db.execute(
            "INSERT INTO ingestion_warnings (type, details, timestamp) VALUES (?, ?, ?)",
            (kind, _dumps(details), format_timestamp(timestamp)),
        )

    def warnings(self) -> list[tuple[str, dict[str, Any], str]]:
        rows = self._db.execute(
            "SELECT type, details, timestamp FROM ingestion_warnings ORDER BY id"
        )
        return [(row[0], json.loads(row[1]), row[2]) for row in rows]

    # groups (S19)

    def group_type_index(self, group_type: str) -> int | None:
        """The index of ``group_type``, assigned on first sight; None once 5 types exist."""
        row = self._db.execute(
            "SELECT group_type_index FROM group_types WHERE group_type = ?", (group_type,)
        ).fetchone()
        if row is not None:
            return int(row[0])
        count = int(self._db.execute("SELECT COUNT(*) FROM group_types").fetchone()[0])
        if count >= _MAX_GROUP_TYPES:
            return None
        self._db.execute("INSERT INTO group_types VALUES (?, ?)", (group_type, count))
        return count

    def upsert_group(
        self, index: int, key: str, properties: dict[str, Any], created_at: datetime
    ) -> None:
        row = self._db.execute(
            "SELECT properties FROM groups WHERE group_type_index = ? AND group_key = ?",
            (index, key),
        ).fetchone()
        merged = {**(json.loads(row[0]) if row else {}), **properties}
        self._db.execute(
            "INSERT INTO groups VALUES (?, ?, ?, ?) ON CONFLICT (group_type_index, group_key)"
            " DO UPDATE SET properties = excluded.properties",
            (index, key, _dumps(merged), format_timestamp(created_at)),
        )

    def groups(self) -> list[tuple[str, int, str, dict[str, Any], str]]:
        rows = self._db.execute(
            "SELECT t.group_type, g.group_type_index, g.group_key, g.properties, g.created_at"
            " FROM groups g JOIN group_types t USING (group_type_index)"
            " ORDER BY g.group_type_index, g.created_at, g.group_key"
        )
        return [(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    @staticmethod
    def _person(row: tuple[Any, ...]) -> PersonRow:
        person_id, person_uuid, properties, is_identified, created_at, last_seen_at, version = row
        return PersonRow(
            person_id,
            person_uuid,
            json.loads(properties),
            bool(is_identified),
            created_at,
            last_seen_at,
            version,
        )
