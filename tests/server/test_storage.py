"""The engine's SQLite store: person search, paging order, and databases from older versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from posthog_client.server import PersonEngine

from . import alias, event, identify

# the tables as the first release created them (no property sources, merges, warning ids)
OLD_SCHEMA = """
CREATE TABLE persons (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, properties TEXT NOT NULL,
    is_identified INTEGER NOT NULL, created_at TEXT NOT NULL, last_seen_at TEXT,
    version INTEGER NOT NULL);
CREATE TABLE distinct_ids (distinct_id TEXT PRIMARY KEY, person_id INTEGER NOT NULL);
CREATE TABLE ingestion_warnings (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,
    details TEXT NOT NULL, timestamp TEXT NOT NULL);
INSERT INTO persons VALUES (1, 'p-1', '{"email":"old@example.com"}', 1,
    '2024-05-01T12:00:00.000000+00:00', NULL, 3);
INSERT INTO distinct_ids VALUES ('old-user', 1);
INSERT INTO ingestion_warnings VALUES (1, 'ignored_invalid_timestamp', '{}',
    '2024-05-01T12:00:00.000000+00:00');
"""


@pytest.fixture
def story(engine: PersonEngine) -> PersonEngine:
    engine.ingest([identify("alice", "anon-a", {"$set": {"email": "alice@example.com"}})])
    engine.ingest([alias("alice", "backend-7f3a")])
    engine.ingest([identify("bob", "anon-b", {"$set": {"email": "bob@example.com", "age": 30}})])
    return engine


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("backend-7f3a", ["alice"]),  # any distinct id
        ("7F3A", ["alice"]),  # ASCII letter case is ignored
        ("anon", ["bob", "alice"]),  # a part of an id, newest person first
        ("example.com", ["bob", "alice"]),  # a part of a property value
        ("email=bob@example.com", ["bob"]),  # one property, exactly
        (" email = bob@example.com ", ["bob"]),
        ("age=30", ["bob"]),  # compared as text too
        ("email=bob", []),
        ("100%", []),  # LIKE wildcards are literal
        ("a_b", []),
    ],
)
def test_search_persons_by_id_or_property(story: PersonEngine, text: str, found: list[str]) -> None:
    persons, total = story.search_persons(text)
    assert [p.distinct_ids[0] for p in persons] == found
    assert total == len(found)


def test_search_by_person_uuid_and_paging(story: PersonEngine) -> None:
    alice = story.person("alice")
    assert alice is not None
    assert story.search_persons(alice.uuid)[0] == [alice]
    page, total = story.search_persons("anon", limit=1, offset=1)
    assert [p.uuid for p in page] == [alice.uuid] and total == 2


def test_persons_newest_first(story: PersonEngine) -> None:
    oldest_first = [p.uuid for p in story.persons()]
    assert [p.uuid for p in story.persons(newest_first=True)] == oldest_first[::-1]


def test_a_database_from_an_older_version_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    db.close()
    with PersonEngine(path) as engine:
        person = engine.person("old-user")
        assert person is not None and person.version == 3
        assert person.property_sources == {}
        engine.ingest([identify("old-user", "anon", {"$set": {"plan": "pro"}})])
        person = engine.person("anon")
        assert person is not None and person.properties["plan"] == "pro"
        assert [m.outcome for m in engine.merges(person.uuid)] == ["attached"]
        assert engine.count_warnings() == 1
    with PersonEngine(path) as engine:  # opening it again changes nothing
        assert engine.person("anon") is not None


def test_events_oldest_first(engine: PersonEngine) -> None:
    sent = [event("$pageview", "u1", {"n": n}) for n in range(3)]
    engine.ingest(sent)
    assert [e.properties["n"] for e in engine.events("u1", oldest_first=True)] == [0, 1, 2]
    assert [e.properties["n"] for e in engine.events("u1")] == [2, 1, 0]
