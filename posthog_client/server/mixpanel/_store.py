"""SQLite storage of the Mixpanel engine: ids, identity tables, events, profile and group ops.

One connection (``server._sqlite``), used under the engine's lock; each request is one
transaction. The ``ids`` table lists every id in the order it was first seen (its rowid), with
the Original model's cluster number; ``aliases`` is the legacy lookup table, ``devices``
Simplified's device → user links. Profiles and groups are stored as operations and replayed
when read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, Final

from .._sqlite import SQLiteStore
from .._strings import dumps

__all__ = ["EventRow", "Store"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ids (
    distinct_id TEXT PRIMARY KEY,
    cluster INTEGER,
    identified INTEGER NOT NULL DEFAULT 0,
    aliased INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ids_by_cluster ON ids(cluster);
CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, target TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS aliases_by_target ON aliases(target);
CREATE TABLE IF NOT EXISTS devices (device_id TEXT PRIMARY KEY, user_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS devices_by_user ON devices(user_id);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    distinct_id TEXT NOT NULL,
    sent_distinct_id TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    insert_id TEXT NOT NULL,
    properties TEXT NOT NULL,
    failure TEXT,
    description TEXT,
    UNIQUE (event, sent_distinct_id, time_ms, insert_id)
);
CREATE INDEX IF NOT EXISTS events_by_distinct_id ON events(distinct_id, time_ms);
CREATE TABLE IF NOT EXISTS profile_ops (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    op TEXT NOT NULL,
    value TEXT NOT NULL,
    time_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS profile_ops_by_owner ON profile_ops(owner);
CREATE TABLE IF NOT EXISTS group_ops (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    group_key TEXT NOT NULL,
    group_id TEXT NOT NULL,
    op TEXT NOT NULL,
    value TEXT NOT NULL,
    time_ms INTEGER NOT NULL
);
"""
_EVENT_COLUMNS: Final = (
    "event, distinct_id, sent_distinct_id, time_ms, insert_id, properties, failure, description"
)
EventRow = tuple[str, str, str, int, str, dict[str, Any], str | None, str | None]
"""event, distinct_id, sent_distinct_id, time_ms, insert_id, properties, failure, description."""


class Store(SQLiteStore):
    """Typed access to the tables; the caller serialises calls (one lock)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._db.executescript(_SCHEMA)

    def _column(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        return [row[0] for row in self._db.execute(sql, params)]

    def _value(self, sql: str, params: Sequence[object] = ()) -> Any:
        row = self._db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # configuration

    def meta(self, key: str) -> str | None:
        value: str | None = self._value("SELECT value FROM meta WHERE key = ?", (key,))
        return value

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def holds_data(self) -> bool:
        return bool(
            self._value(
                "SELECT EXISTS (SELECT 1 FROM ids UNION ALL SELECT 1 FROM events"
                " UNION ALL SELECT 1 FROM group_ops)"
            )
        )

    # ids, in first-seen order, with Original's clusters

    def see(self, distinct_id: str) -> None:
        """Record ``distinct_id`` (its own cluster) unless it is known already."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO ids (distinct_id) VALUES (?)", (distinct_id,)
        )
        if cursor.rowcount:
            self._db.execute("UPDATE ids SET cluster = rowid WHERE distinct_id = ?", (distinct_id,))

    def seen(self, distinct_id: str) -> bool:
        return self.cluster_of(distinct_id) is not None

    def cluster_of(self, distinct_id: str) -> int | None:
        cluster: int | None = self._value(
            "SELECT cluster FROM ids WHERE distinct_id = ?", (distinct_id,)
        )
        return cluster

    def cluster_ids(self, cluster: int) -> list[str]:
        return self._column(
            "SELECT distinct_id FROM ids WHERE cluster = ? ORDER BY rowid", (cluster,)
        )

    def identified_ids(self, cluster: int) -> list[str]:
        return self._column(
            "SELECT distinct_id FROM ids WHERE cluster = ? AND identified ORDER BY rowid",
            (cluster,),
        )

    def merge_clusters(self, first: int, second: int) -> None:
        keep, gone = min(first, second), max(first, second)
        self._db.execute("UPDATE ids SET cluster = ? WHERE cluster = ?", (keep, gone))

    def mark(self, distinct_id: str, flag: str) -> None:
        """Set ``identified`` or ``aliased`` on a known id."""
        assert flag in ("identified", "aliased")
        self._db.execute(f"UPDATE ids SET {flag} = 1 WHERE distinct_id = ?", (distinct_id,))

    def is_aliased(self, distinct_id: str) -> bool:
        return bool(self._value("SELECT aliased FROM ids WHERE distinct_id = ?", (distinct_id,)))

    def stored_keys(self) -> list[str]:
        """Every id holding events or profile operations, in first-seen order."""
        return self._column(
            "SELECT distinct_id FROM ids WHERE distinct_id IN"
            " (SELECT distinct_id FROM events UNION SELECT owner FROM profile_ops) ORDER BY rowid"
        )

    # legacy's alias table

    def alias_target(self, alias: str) -> str | None:
        target: str | None = self._value("SELECT target FROM aliases WHERE alias = ?", (alias,))
        return target

    def add_alias(self, alias: str, target: str) -> None:
        self._db.execute("INSERT INTO aliases VALUES (?, ?)", (alias, target))

    def aliases_of(self, target: str) -> list[str]:
        return self._column("SELECT alias FROM aliases WHERE target = ? ORDER BY rowid", (target,))

    # simplified's device links

    def device_user(self, device_id: str) -> str | None:
        user: str | None = self._value(
            "SELECT user_id FROM devices WHERE device_id = ?", (device_id,)
        )
        return user

    def link_device(self, device_id: str, user_id: str) -> None:
        self._db.execute("INSERT INTO devices VALUES (?, ?)", (device_id, user_id))

    def devices_of(self, user_id: str) -> list[str]:
        return self._column(
            "SELECT device_id FROM devices WHERE user_id = ? ORDER BY rowid", (user_id,)
        )

    # events

    def find_event(
        self, event: str, sent_distinct_id: str, when: int, insert_id: str
    ) -> tuple[int, dict[str, Any]] | None:
        """The stored copy with this dedup key (MA10): its row id and properties."""
        row = self._db.execute(
            "SELECT seq, properties FROM events WHERE event = ? AND sent_distinct_id = ?"
            " AND time_ms = ? AND insert_id = ?",
            (event, sent_distinct_id, when, insert_id),
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def set_event_properties(self, seq: int, properties: object) -> None:
        self._db.execute("UPDATE events SET properties = ? WHERE seq = ?", (dumps(properties), seq))

    def insert_event(self, row: EventRow) -> None:
        event, key, sent, when, insert_id, properties, failure, description = row
        self._db.execute(
            f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (event, key, sent, when, insert_id, dumps(properties), failure, description),
        )

    def events(self, keys: Sequence[str] | None, *, failed_only: bool = False) -> list[EventRow]:
        """Events stored under ``keys`` (all if None), oldest first."""
        where = [] if keys is None else ["distinct_id IN (SELECT value FROM json_each(?))"]
        if failed_only:
            where.append("failure IS NOT NULL")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        params = () if keys is None else (dumps(list(keys)),)
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events {clause} ORDER BY time_ms, seq", params
        )
        return [(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]

    # profile and group operations

    def add_profile_op(self, owner: str, op: str, value: object, when: int) -> None:
        self._db.execute(
            "INSERT INTO profile_ops (owner, op, value, time_ms) VALUES (?, ?, ?, ?)",
            (owner, op, dumps(value), when),
        )

    def profile_ops(self, owners: Sequence[str]) -> list[tuple[str, Any]]:
        rows = self._db.execute(
            "SELECT op, value FROM profile_ops WHERE owner IN (SELECT value FROM json_each(?))"
            " ORDER BY time_ms, seq",
            (dumps(list(owners)),),
        )
        return [(op, json.loads(value)) for op, value in rows]

    def add_group_op(self, key: str, group_id: str, op: str, value: object, when: int) -> None:
        self._db.execute(
            "INSERT INTO group_ops (group_key, group_id, op, value, time_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            (key, group_id, op, dumps(value), when),
        )

    def group_ops(self) -> dict[tuple[str, str], list[tuple[str, Any]]]:
        """Every group's operations, groups in first-seen order, operations oldest first."""
        groups: dict[tuple[str, str], list[tuple[str, Any]]] = {}
        order = "ORDER BY MIN(seq) OVER (PARTITION BY group_key, group_id), time_ms, seq"
        for key, group_id, op, value in self._db.execute(
            f"SELECT group_key, group_id, op, value FROM group_ops {order}"
        ):
            groups.setdefault((key, group_id), []).append((op, json.loads(value)))
        return groups
