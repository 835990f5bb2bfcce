"""What the delivery worker needs from a queue of encoded events, and the drop counters.

A queue hands out batches by *peeking* (``next_batch``) and forgets events only when told how
many of the batch's leading events are finished (``ack``), so a batch that cannot be delivered
now is simply offered again later, unchanged.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from .._events.encoding import SharedProperties

__all__ = [
    "DROP_REASONS",
    "MAX_BATCH_BYTES",
    "MAX_EVENT_BYTES",
    "Batch",
    "Counters",
    "EventQueue",
]

MAX_EVENT_BYTES: Final = 900 * 1024  # PostHog's ~1 MB per event, with room for the envelope
MAX_BATCH_BYTES: Final = 5 * 1024 * 1024  # SDK convention; the /batch/ route takes 20 MB
DROP_REASONS: Final = (
    "queue_full",  # memory queue at max_queue_size
    "oversize",  # one event over MAX_EVENT_BYTES
    "disk_full",  # disk queue over max_disk_bytes (oldest dropped) or a failed write
    "rejected_4xx",  # a final 4xx for the batch (400, 401, 403, ...)
    "too_large_413",  # a single event still answered 413
    "rejected_event",  # refused by a server that answers per event (capture v1, Mixpanel)
    "corrupt",  # a queue line that is not an event: a crash's torn write, a damaged file
    "vanished",  # queue files deleted by another program while waiting to be sent
    "shutdown",  # submitted after shutdown()
)


class Batch:
    """Leading events of a queue, still owned by it until ``EventQueue.ack``."""

    __slots__ = ("events", "token")

    def __init__(self, events: list[bytes], token: object) -> None:
        self.events = events
        self.token = token  # where the events sit in the queue; meaningful only to that queue


class EventQueue(Protocol):
    def put(self, event: bytes, shared: SharedProperties | None = None) -> bool:
        """Append one encoded event (caller thread, never blocks); False if refused.
        ``shared``: properties to splice into the event's (``encoding.with_shared``); the
        queue hands out whole events."""

    def pending(self) -> int:
        """Events queued and not yet acknowledged."""

    def next_batch(self, max_count: int, max_bytes: int) -> Batch | None:
        """The oldest events, at most ``max_count`` and about ``max_bytes``; None if empty."""

    def ack(self, batch: Batch, done: int) -> None:
        """Forget the first ``done`` events of ``batch`` (delivered or dropped)."""

    def maintain(self, *, rescan: bool = False) -> None:
        """Housekeeping, on the worker thread or in ``flush`` (disk: adopt orphans, ``rescan``
        at once rather than periodically; enforce the budget; re-create a deleted folder)."""

    def purge(self) -> int:
        """Delete everything unsent; returns how many events were deleted."""

    def close(self) -> None:
        """Release files and locks; what is unsent stays for the next process (disk)."""

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's events and handles without touching them."""


class Counters:
    """Thread-safe event counters: ``sent``, ``retried``, ``purged`` and ``dropped_<reason>``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = dict.fromkeys(
            ("sent", "retried", "purged", *(f"dropped_{r}" for r in DROP_REASONS)), 0
        )

    def add(self, name: str, count: int = 1) -> None:
        if count:
            with self._lock:
                self._values[name] = self._values.get(name, 0) + count

    def drop(self, reason: str, count: int = 1) -> None:
        self.add(f"dropped_{reason}", count)

    def get(self, name: str) -> int:
        return self._values.get(name, 0)

    def dropped(self) -> int:
        with self._lock:
            return sum(v for k, v in self._values.items() if k.startswith("dropped_"))

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)

    def reset(self) -> None:
        """Fresh counters (and a fresh lock: another thread may have held it at fork)."""
        self._lock = threading.Lock()
        self._values = dict.fromkeys(self._values, 0)
