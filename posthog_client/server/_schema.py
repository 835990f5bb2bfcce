"""The SQLite schema of the local server (created on first use of a database file)."""

from __future__ import annotations

from typing import Final

__all__ = ["SCHEMA"]

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS persons (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    properties TEXT NOT NULL,
    is_identified INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT,
    version INTEGER NOT NULL
);
-- rowid order is the order ids were first seen; moving an id keeps its rowid
CREATE TABLE IF NOT EXISTS distinct_ids (
    distinct_id TEXT PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id)
);
CREATE INDEX IF NOT EXISTS distinct_ids_by_person ON distinct_ids(person_id);
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
CREATE INDEX IF NOT EXISTS events_by_distinct_id ON events(distinct_id, timestamp);
CREATE INDEX IF NOT EXISTS events_by_time ON events(timestamp, seq);
CREATE TABLE IF NOT EXISTS ingestion_warnings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    details TEXT NOT NULL,
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
