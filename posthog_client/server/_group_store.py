"""Group types and groups of the local server (S19), in the engine's SQLite database."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any, Final

from .._events.timestamps import format_timestamp
from ._strings import dumps

__all__ = ["GroupStore"]

_MAX_GROUP_TYPES: Final = 5  # $group_0 … $group_4 (S19)


class GroupStore:
    """Typed access to ``group_types`` and ``groups``; the caller serialises calls."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def type_index(self, group_type: str) -> int | None:
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

    def upsert(
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
            (index, key, dumps(merged), format_timestamp(created_at)),
        )

    def types(self) -> dict[int, str]:
        """Every known group type by index."""
        rows = self._db.execute("SELECT group_type_index, group_type FROM group_types")
        return {int(index): str(name) for index, name in rows}

    def properties(self, group_type: str, key: str) -> dict[str, Any] | None:
        """The properties of a group, or None if no ``$groupidentify`` created it."""
        row = self._db.execute(
            "SELECT g.properties FROM groups g JOIN group_types t USING (group_type_index)"
            " WHERE t.group_type = ? AND g.group_key = ?",
            (group_type, key),
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def all(self) -> list[tuple[str, int, str, dict[str, Any], str]]:
        rows = self._db.execute(
            "SELECT t.group_type, g.group_type_index, g.group_key, g.properties, g.created_at"
            " FROM groups g JOIN group_types t USING (group_type_index)"
            " ORDER BY g.group_type_index, g.created_at, g.group_key"
        )
        return [(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]
