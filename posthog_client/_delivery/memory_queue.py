"""The in-memory queue of ``persist=False``: bounded by count, drops the newest when full."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import TYPE_CHECKING

from .._events.encoding import with_shared
from .._log import warn_once
from .queue import Batch, Counters

if TYPE_CHECKING:
    from .._events.encoding import SharedProperties

__all__ = ["MemoryQueue"]


class MemoryQueue:
    """A bounded deque. When full the *new* event is refused (and counted), so ``submit`` can
    tell the caller; events already accepted are never evicted."""

    def __init__(self, max_size: int, counters: Counters) -> None:
        self._max_size = max_size
        self._counters = counters
        self._items: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._epoch = 0  # bumped by purge so an in-flight batch cannot pop newer events

    def put(self, event: bytes, shared: SharedProperties | None = None) -> bool:
        if shared is not None:
            event = with_shared(event, shared.splice)
        else:  # a copy of exactly its size: orjson's own result keeps a larger allocation,
            event = bytes(memoryview(event))  # and 50,000 of them took 400 MiB instead of 65
        with self._lock:
            if len(self._items) < self._max_size:
                self._items.append(event)
                return True
        self._counters.drop("queue_full")
        warn_once(
            "memory-queue-full",
            "event queue is full (max_queue_size=%d): new events are dropped until it drains",
            self._max_size,
        )
        return False

    def pending(self) -> int:
        return len(self._items)

    def next_batch(self, max_count: int, max_bytes: int) -> Batch | None:
        events: list[bytes] = []
        size = 0
        with self._lock:
            for event in itertools.islice(self._items, max_count):
                if events and size + len(event) > max_bytes:
                    break
                events.append(event)
                size += len(event) + 1
            epoch = self._epoch
        return Batch(events, epoch) if events else None

    def ack(self, batch: Batch, done: int) -> None:
        with self._lock:
            if batch.token != self._epoch:
                return
            for _ in range(min(done, len(self._items))):
                self._items.popleft()

    def maintain(self, *, rescan: bool = False) -> None:
        """Nothing to do: the bound is enforced by ``put``."""

    def purge(self) -> int:
        with self._lock:
            count = len(self._items)
            self._items.clear()
            self._epoch += 1
        return count

    def close(self) -> None:
        """Nothing to release; unsent events die with the process (memory mode)."""

    def reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._items = deque()  # the parent still owns and sends these
        self._epoch += 1
