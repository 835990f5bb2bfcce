"""The SQLite schema of the local server, created on first use and brought up to date on open."""

from __future__ import annotations

import sqlite3
from typing import Final

__all__ = ["IDS_OF_PERSON", "create_schema"]

IDS_OF_PERSON: Final = "SELECT distinct_id FROM distinct_ids WHERE person_id = ?"
"""A subquery: every distinct id of the person whose row id is bound to ``?``."""

_TABLES: Final = """
CREATE TABLE IF NOT EXISTS persons (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    properties TEXT NOT NULL,
    is_identified INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT,
    version INTEGER NOT NULL,
    -- key -> where its value came from: {"op", "event", "uuid", "at"}
    property_sources TEXT NOT NULL DEFAULT '{}'
);
-- rowid order is the order ids were first seen; moving an id keeps its rowid
CREATE TABLE IF NOT EXISTS distinct_ids (
    distinct_id TEXT PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id)
);
-- distinct ids seen on personless events (PostHog's posthog_personlessdistinctid)
CREATE TABLE IF NOT EXISTS personless_distinct_ids (distinct_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    distinct_id TEXT NOT NULL,
    properties TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    person_mode TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ingestion_warnings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    details TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    event_uuid TEXT,
    distinct_id TEXT
);
-- every merge attempt ($identify, $create_alias, $merge_dangerously) and what came of it
CREATE TABLE IF NOT EXISTS merges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    event_uuid TEXT NOT NULL,
    distinct_id TEXT NOT NULL,
    other_distinct_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    warning TEXT,
    target_person_uuid TEXT,
    source_person_uuid TEXT,
    timestamp TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS group_types (
    group_type TEXT PRIMARY KEY,
    group_type_index INTEGER NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS groups (
    group_type_index INTEGER NOT NULL,
    group_key TEXT NOT NULL,
    properties TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (group_type_index, group_key)
);
"""

# columns added after the first release: a database file made by it gets them on open
_ADDED_COLUMNS: Final = (
    ("persons", "property_sources", "TEXT NOT NULL DEFAULT '{}'"),
    ("ingestion_warnings", "event_uuid", "TEXT"),
    ("ingestion_warnings", "distinct_id", "TEXT"),
)

_INDEXES: Final = """
CREATE INDEX IF NOT EXISTS distinct_ids_by_person ON distinct_ids(person_id);
CREATE INDEX IF NOT EXISTS events_by_distinct_id ON events(distinct_id, timestamp);
CREATE INDEX IF NOT EXISTS events_by_time ON events(timestamp, seq);
CREATE INDEX IF NOT EXISTS warnings_by_distinct_id ON ingestion_warnings(distinct_id);
CREATE INDEX IF NOT EXISTS merges_by_distinct_id ON merges(distinct_id);
CREATE INDEX IF NOT EXISTS merges_by_other_distinct_id ON merges(other_distinct_id);
CREATE INDEX IF NOT EXISTS merges_by_source_person ON merges(source_person_uuid);
"""


def create_schema(db: sqlite3.Connection) -> None:
    """Create the tables and indexes, adding the columns an older database file lacks."""
    db.executescript(_TABLES)
    for table, column, declaration in _ADDED_COLUMNS:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    db.executescript(_INDEXES)
