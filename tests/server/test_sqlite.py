"""The SQLite lifecycle both engines share: transactions, WAL files, closing once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from posthog_client.server import PersonEngine
from posthog_client.server._sqlite import SQLiteStore
from posthog_client.server.mixpanel import MixpanelEngine


class _Table(SQLiteStore):
    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._db.execute("CREATE TABLE t (n INTEGER)")

    def add(self, n: int) -> None:
        self._db.execute("INSERT INTO t VALUES (?)", (n,))

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM t").fetchone()[0])


def test_a_transaction_keeps_all_or_nothing() -> None:
    store = _Table(":memory:")
    with store.transaction():
        store.add(1)
    with pytest.raises(KeyError), store.transaction():
        store.add(2)
        raise KeyError("half-way")
    assert store.count() == 1
    store.close()


def test_a_file_database_is_in_wal_mode(tmp_path: Path) -> None:
    _Table(tmp_path / "db.sqlite3").close()
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


@pytest.mark.parametrize("engine_type", [PersonEngine, MixpanelEngine])
def test_an_engine_closes_its_store_once(engine_type: type[PersonEngine | MixpanelEngine]) -> None:
    with engine_type() as engine:
        assert isinstance(engine, engine_type)
        revision = engine.revision
    engine.close()  # idempotent
    assert engine.revision == revision
    with pytest.raises(sqlite3.ProgrammingError):  # the connection is closed
        engine.events()
