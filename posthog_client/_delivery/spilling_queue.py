"""Persisted mode's queue: the disk queue, and memory while the disk refuses events.

The identity already degrades to memory when its files cannot be written; the event queue does
the same here, and goes back: ``put`` writes to disk, and when the disk refuses (full, read-only,
deleted, over ``max_disk_bytes`` faster than the worker trims) the event is kept in a bounded
``MemoryQueue`` with one WARNING. Every ``RETRY_S`` a write is tried on disk again; once the
disk takes events, housekeeping moves the spilled ones back to disk, so they survive the
process too. A disk queue that cannot even be opened is retried the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from .._log import logger, warn_once
from .disk_queue import DiskQueue
from .memory_queue import MemoryQueue
from .queue import Batch, EventQueue

if TYPE_CHECKING:
    from .._events.encoding import SharedProperties

__all__ = ["SpillingQueue"]

RETRY_S: Final = 5.0  # how often a refusing disk is tried again
_MOVE_BATCH: Final = 1000


class SpillingQueue:
    """An ``EventQueue`` over a ``DiskQueue`` (built by ``open_disk``) and a ``MemoryQueue``."""

    def __init__(self, open_disk: Callable[[], DiskQueue], memory: MemoryQueue) -> None:
        self._open_disk = open_disk
        self._memory = memory
        self._disk: DiskQueue | None = None
        self._retry_at = 0.0  # while spilling: when to try the disk again
        self._spilling = False
        # Moving spilled events to disk must not overlap a memory batch in flight: the memory
        # queue acknowledges by position.
        self._memory_lock = threading.Lock()
        self._memory_in_flight = False
        self._try_open()

    def _try_open(self) -> None:
        try:
            self._disk = self._open_disk()
        except OSError as exc:  # read-only or full disk, permissions, lock timeout
            self._spill(exc)

    def _spill(self, exc: OSError) -> None:
        if not self._spilling:
            warn_once(
                f"spill-{exc.errno}",
                "disk queue unavailable (%s): events are kept in memory until it can take them",
                exc,
            )
        self._spilling = True
        self._retry_at = time.monotonic() + RETRY_S

    def put(self, event: bytes, shared: SharedProperties | None = None) -> bool:
        disk = self._disk
        if disk is not None and (not self._spilling or time.monotonic() >= self._retry_at):
            try:
                return disk.put(event, shared)  # False only once closed
            except OSError as exc:
                self._spill(exc)
        return self._memory.put(event, shared)

    def pending(self) -> int:
        disk = self._disk
        return self._memory.pending() + (disk.pending() if disk is not None else 0)

    def next_batch(self, max_count: int, max_bytes: int) -> Batch | None:
        disk = self._disk
        batch = disk.next_batch(max_count, max_bytes) if disk is not None else None
        if batch is not None:
            return Batch(batch.events, (disk, batch))
        with self._memory_lock:
            batch = self._memory.next_batch(max_count, max_bytes)
            if batch is None:
                return None
            self._memory_in_flight = True
        return Batch(batch.events, (self._memory, batch))

    def ack(self, batch: Batch, done: int) -> None:
        queue: EventQueue
        inner: Batch
        queue, inner = batch.token  # type: ignore[misc]
        if queue is not self._memory:
            queue.ack(inner, done)
            return
        with self._memory_lock:
            queue.ack(inner, done)
            self._memory_in_flight = False

    def maintain(self, *, rescan: bool = False) -> None:
        if self._disk is None:
            if time.monotonic() < self._retry_at:
                return
            self._try_open()
        disk = self._disk
        if disk is None:
            return
        disk.maintain(rescan=rescan)
        if self._memory.pending() and (not self._spilling or time.monotonic() >= self._retry_at):
            self._move_to_disk(disk)

    def _move_to_disk(self, disk: DiskQueue) -> None:
        """Write the spilled events back to disk, oldest first, as far as it takes them."""
        with self._memory_lock:
            if not self._memory_in_flight:
                self._move_locked(disk)

    def _move_locked(self, disk: DiskQueue) -> None:
        while (batch := self._memory.next_batch(_MOVE_BATCH, 1 << 30)) is not None:
            moved = 0
            try:
                for event in batch.events:
                    if not disk.put(event):
                        break
                    moved += 1
            except OSError as exc:
                self._spill(exc)
            self._memory.ack(batch, moved)
            if moved < len(batch.events):
                return
        if self._spilling:
            self._spilling = False
            logger.info("disk queue writable again: events are queued on disk")

    def purge(self) -> int:
        disk = self._disk
        return self._memory.purge() + (disk.purge() if disk is not None else 0)

    def close(self) -> None:
        disk = self._disk
        if disk is not None:
            if self._memory.pending():  # last chance for spilled events to outlive the process
                self._move_to_disk(disk)
            disk.close()

    def reset_after_fork(self) -> None:
        self._memory_lock = threading.Lock()
        self._memory_in_flight = False
        self._memory.reset_after_fork()
        if self._disk is not None:
            self._disk.reset_after_fork()
