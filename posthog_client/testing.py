"""Test doubles: record what an app sends instead of sending it.

Example::

    backend = MemoryBackend()
    client = posthog_client.Client("phc_test", backend=backend, persist=False, sync_mode=True)
    client.capture("signed_up")
    assert backend.events[0]["event"] == "signed_up"
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """A backend that keeps every delivered event (decoded) in memory, in delivery order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._batches = 0
        self.closed = False

    def send(self, batch: Sequence[bytes]) -> None:
        decoded = [json.loads(item) for item in batch]
        with self._lock:
            self._events.extend(decoded)
            self._batches += 1

    def close(self) -> None:
        self.closed = True

    @property
    def events(self) -> list[dict[str, Any]]:
        """A copy of the events received so far."""
        with self._lock:
            return list(self._events)

    @property
    def batch_count(self) -> int:
        return self._batches

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._batches = 0
