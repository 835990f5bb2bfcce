"""What the PostHog and Mixpanel engines share: one SQLite connection behind one lock.

``SQLiteStore`` owns the connection (autocommit, WAL on a file) and the explicit transaction of
each request; ``SQLiteEngine`` holds a store under a lock, counts revisions for the explorer,
and closes the store once (``close()`` or a ``with`` block).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Generic, TypeVar

__all__ = ["SQLiteEngine", "SQLiteStore"]


class SQLiteStore:
    """One connection to a SQLite file or ``":memory:"``; the caller serialises calls."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # autocommit mode: transactions are explicit (BEGIN IMMEDIATE … COMMIT), one per request
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")

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


StoreT = TypeVar("StoreT", bound=SQLiteStore)
EngineT = TypeVar("EngineT", bound="SQLiteEngine[Any]")


class SQLiteEngine(Generic[StoreT]):
    """An engine over ``store``: every call holds ``self._lock``; ingests move the revision."""

    def __init__(self, store: StoreT) -> None:
        self._lock = threading.RLock()
        self._store = store
        self._closed = False
        self._revision = 0

    @property
    def revision(self) -> int:
        """A number that grows when an ingest may change what queries answer (the explorer's
        pages poll it to refresh)."""
        return self._revision

    def close(self) -> None:
        """Close the database; idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._store.close()

    def __enter__(self: EngineT) -> EngineT:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
