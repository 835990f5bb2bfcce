"""The local server's append-only logs: ingestion warnings (S24) and merge requests (S4–S11).

Both are written inside the request's transaction and read by the query API and the explorer.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any, Final

from .._events.timestamps import format_timestamp
from ._models import IngestionWarning, MergeOutcome, MergeRecord
from ._schema import IDS_OF_PERSON
from ._strings import dumps
from ._time import stored_time

__all__ = ["Journal"]

_MERGE_COLUMNS: Final = (
    "event, event_uuid, distinct_id, other_distinct_id, outcome, warning,"
    " target_person_uuid, source_person_uuid, timestamp"
)


class Journal:
    """Ingestion warnings and merge records; the caller serialises calls (one lock)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    # ingestion warnings

    def add_warning(
        self,
        kind: str,
        details: dict[str, Any],
        timestamp: datetime,
        *,
        event_uuid: str | None = None,
        distinct_id: str | None = None,
    ) -> None:
        """Record a warning; ``distinct_id`` is the id of the event that raised it."""
        self._db.execute(
            "INSERT INTO ingestion_warnings (type, details, timestamp, event_uuid, distinct_id)"
            " VALUES (?, ?, ?, ?, ?)",
            (kind, dumps(details), format_timestamp(timestamp), event_uuid, distinct_id),
        )

    def warnings(
        self, limit: int = -1, offset: int = 0, *, newest_first: bool = False
    ) -> list[IngestionWarning]:
        order = "DESC" if newest_first else "ASC"
        rows = self._db.execute(
            f"SELECT type, details, timestamp FROM ingestion_warnings ORDER BY id {order}"
            " LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_warning(row) for row in rows]

    def count_warnings(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM ingestion_warnings").fetchone()[0])

    def warnings_of_person(self, person_id: int, limit: int) -> list[IngestionWarning]:
        """The newest warnings raised by events of any distinct id the person has now."""
        rows = self._db.execute(
            "SELECT type, details, timestamp FROM ingestion_warnings"
            f" WHERE distinct_id IN ({IDS_OF_PERSON}) ORDER BY id DESC LIMIT ?",
            (person_id, limit),
        )
        return [_warning(row) for row in rows]

    # merges

    def add_merge(
        self,
        event: str,
        event_uuid: str,
        distinct_id: str,
        other_distinct_id: str,
        outcome: MergeOutcome,
        timestamp: datetime,
        *,
        warning: str | None = None,
        target_person_uuid: str | None = None,
        source_person_uuid: str | None = None,
    ) -> None:
        self._db.execute(
            f"INSERT INTO merges ({_MERGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event,
                event_uuid,
                distinct_id,
                other_distinct_id,
                outcome,
                warning,
                target_person_uuid,
                source_person_uuid,
                format_timestamp(timestamp),
            ),
        )

    def merges_of_person(self, person_id: int, limit: int) -> list[MergeRecord]:
        """The newest merge requests naming any distinct id the person has now, on either side."""
        rows = self._db.execute(
            f"SELECT {_MERGE_COLUMNS} FROM merges WHERE distinct_id IN ({IDS_OF_PERSON})"
            f" OR other_distinct_id IN ({IDS_OF_PERSON}) ORDER BY id DESC LIMIT ?",
            (person_id, person_id, limit),
        )
        return [_merge(row) for row in rows]

    def merged_into(self, person_uuid: str) -> str | None:
        """The uuid of the person a deleted person was merged into, if it was."""
        row = self._db.execute(
            "SELECT target_person_uuid FROM merges WHERE source_person_uuid = ?"
            " AND outcome = 'merged' ORDER BY id DESC LIMIT 1",
            (person_uuid,),
        ).fetchone()
        return None if row is None else str(row[0])


def _warning(row: tuple[str, str, str]) -> IngestionWarning:
    return IngestionWarning(row[0], json.loads(row[1]), stored_time(row[2]))


def _merge(row: tuple[Any, ...]) -> MergeRecord:
    event, event_uuid, distinct_id, other, outcome, warning, target, source, timestamp = row
    return MergeRecord(
        event, event_uuid, distinct_id, other, outcome, warning, target, source,
        stored_time(timestamp),
    )  # fmt: skip
