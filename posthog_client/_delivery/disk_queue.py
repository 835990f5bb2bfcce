"""The on-disk queue of persisted mode: survives ``kill -9``, shared safely by many processes.

``put`` runs on the caller's thread and appends the event as one line to this process's current
segment with a single ``write(2)`` (``append``; no fsync: a killed process loses nothing, a
power cut may).
The worker reads this process's segments and those of dead processes, whose owner lock it can
take (see ``segments``); live owners hold theirs, so no event is ever read by two processes.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Final

from .._log import logger, warn_once
from .append import load_append
from .queue import Batch, Counters
from .segments import O_BINARY, Segment, Stream

__all__ = ["DiskQueue"]

_OWN_LOCK_TIMEOUT_S: Final = 2.0  # only another process's adoption sweep can hold it briefly
_RESCAN_INTERVAL_S: Final = 30.0  # how soon a running process adopts a dead peer's events
_WRITE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_APPEND | O_BINARY


class _Position:
    """Where a batch starts: which stream, segment and offset, in which purge epoch."""

    __slots__ = ("epoch", "offset", "seq", "stream")

    def __init__(self, epoch: int, stream: Stream, seq: int, offset: int) -> None:
        self.epoch, self.stream, self.seq, self.offset = epoch, stream, seq, offset


def _new_owner() -> str:
    return f"{time.time_ns():016x}-{os.getpid()}-{os.urandom(3).hex()}"


class DiskQueue:
    """Segment files under ``directory``, at most about ``max_bytes`` of unsent events.

    ``_lock`` (tiny, never held across network I/O) guards the writer and the counters;
    ``_consume_lock`` serializes the reader side (batches, acks, housekeeping, purge, close).
    """

    def __init__(self, directory: Path, max_bytes: int, counters: Counters) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._dir = directory
        self._max_bytes = max_bytes
        self._segment_bytes = min(max(max_bytes // 16, 64 * 1024), 4 * 1024 * 1024)
        # Over this the worker cannot have trimmed in time (stuck in a long send): refuse.
        self._hard_limit = max_bytes + 2 * self._segment_bytes
        self._counters = counters
        self._append = load_append()
        self._lock = threading.Lock()
        self._consume_lock = threading.Lock()
        self._epoch = 0
        self._init_state()
        self._reset_counts()
        with self._lock:
            self._rotate()  # fail now, not on the first event, if the folder is unusable

    def _init_state(self) -> None:
        self._streams: dict[str, Stream] = {}
        self._own: Stream | None = None
        self._active: Segment | None = None
        self._fd = -1
        self._closed = False
        self._next_scan = 0.0

    def _reset_counts(self) -> None:
        # Writers only add to the first pair, the reader to the second: pending() needs no lock.
        self._added_events = self._added_bytes = 0
        self._removed_events = self._removed_bytes = 0

    # -- writer (caller threads) ---------------------------------------------------------------

    def put(self, event: bytes) -> bool:
        line = event + b"\n"
        size = len(line)
        try:
            with self._lock:
                if self._closed:
                    return False
                if self._added_bytes - self._removed_bytes + size > self._hard_limit:
                    raise OSError(errno.ENOSPC, "queue over max_disk_bytes")
                segment = self._active
                if segment is None or segment.size >= self._segment_bytes:
                    segment = self._rotate()
                written = self._append(self._fd, line)
                if written != size:  # a short write (disk full): keep the file line-aligned
                    os.ftruncate(self._fd, segment.size)
                    raise OSError(errno.ENOSPC, "short write")
                segment.size += size
                segment.lines += 1
                self._added_bytes += size
                self._added_events += 1
        except OSError as exc:
            self._counters.drop("disk_full")
            warn_once("disk-queue-write", "event dropped: cannot append to the disk queue: %s", exc)
            return False
        return True

    def _rotate(self) -> Segment:
        own = self._own
        if own is None:
            from filelock import FileLock  # deferred: tens of ms of import time

            owner = _new_owner()
            lock = FileLock(self._dir / f"{owner}.lock", thread_local=False)
            lock.acquire(timeout=_OWN_LOCK_TIMEOUT_S)
            own = self._own = self._streams[owner] = Stream(self._dir, owner, lock)
        fd = os.open(own.next_path(), _WRITE_FLAGS, 0o600)
        segment = own.add_segment()
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._active = fd, segment
        return segment

    def pending(self) -> int:
        return self._added_events - self._removed_events

    # -- reader (the worker, or the caller in sync mode) -----------------------------------

    def next_batch(self, max_count: int, max_bytes: int) -> Batch | None:
        with self._consume_lock:
            with self._lock:
                streams = [self._streams[owner] for owner in sorted(self._streams)]
                epoch = self._epoch
            for stream in streams:  # oldest owner first: earlier runs go before this one (P3)
                while stream.segments:
                    events = stream.peek(max_count, max_bytes)
                    if events:
                        at = _Position(epoch, stream, stream.segments[0].seq, stream.offset)
                        return Batch(events, at)
                    if not self._finish_head(stream):
                        break
        return None

    def _finish_head(self, stream: Stream) -> bool:
        """Delete a fully read first segment; False if it is still being written."""
        with self._lock:
            if stream.segments[0] is self._active:
                return False
        if stream.peek(1, 1):  # written to after our last read, then rotated: not done yet
            return True
        lines, size = stream.finish_head()
        if size:  # a crashed writer's torn last line: not an event
            self._counters.drop("corrupt", max(lines, 1))
        self._removed(lines, size)
        if not stream.segments and stream is not self._own:
            self._release(stream, delete=True)
        return True

    def ack(self, batch: Batch, done: int) -> None:
        at = batch.token
        assert isinstance(at, _Position)
        stream = at.stream
        with self._consume_lock:
            if (
                done <= 0
                or at.epoch != self._epoch
                or not stream.segments
                or stream.segments[0].seq != at.seq
                or stream.offset != at.offset
            ):
                return  # purged or trimmed meanwhile
            self._removed(done, stream.advance(batch.events[:done]))

    def _removed(self, events: int, size: int) -> None:
        with self._lock:
            self._removed_events += events
            self._removed_bytes += size

    def _release(self, stream: Stream, *, delete: bool) -> None:
        with self._lock:
            self._streams.pop(stream.owner, None)
        stream.close(delete=delete)

    # -- housekeeping --------------------------------------------------------------------------

    def maintain(self) -> None:
        with self._consume_lock:
            if time.monotonic() >= self._next_scan:
                self._next_scan = time.monotonic() + _RESCAN_INTERVAL_S
                self._adopt_orphans()
            self._trim()

    def _adopt_orphans(self) -> None:
        """Take over the files of owners whose lock is free: their process is gone."""
        from filelock import FileLock, Timeout

        seqs: dict[str, list[int]] = {}
        for name in os.listdir(self._dir):
            owner, _, rest = name.partition(".")
            if rest in ("lock", "pos"):
                seqs.setdefault(owner, [])
            elif rest.endswith(".seg") and rest[:-4].isdigit():
                seqs.setdefault(owner, []).append(int(rest[:-4]))
        for owner in sorted(seqs.keys() - self._streams.keys()):
            lock = FileLock(self._dir / f"{owner}.lock", thread_local=False)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue  # alive, or being adopted by another process right now
            stream = Stream.load(self._dir, owner, lock, seqs[owner])
            if not stream.segments:
                stream.close(delete=True)
                continue
            with self._lock:
                self._streams[owner] = stream
                self._added_events += stream.unsent_lines
                self._added_bytes += stream.unsent_bytes
            logger.debug("adopted %d unsent events of an earlier process", stream.unsent_lines)

    def _trim(self) -> None:
        """Drop the oldest segments while over ``max_disk_bytes``."""
        dropped = 0
        for owner in sorted(self._streams):
            stream = self._streams[owner]
            while stream.segments and self._excess() > 0:
                with self._lock:
                    if stream.segments[0] is self._active:
                        self._rotate()
                lines, size = stream.finish_head()
                dropped += lines
                self._removed(lines, size)
            if not stream.segments and stream is not self._own:
                self._release(stream, delete=True)
        if dropped:
            self._counters.drop("disk_full", dropped)
            warn_once(
                "disk-queue-trim",
                "disk queue over max_disk_bytes=%d: dropped the %d oldest events",
                self._max_bytes,
                dropped,
            )

    def _excess(self) -> int:
        return self._added_bytes - self._removed_bytes - self._max_bytes

    def purge(self) -> int:
        with self._consume_lock:
            self._adopt_orphans()  # opt-out: what earlier runs left must not leave either
            with self._lock:
                purged = self.pending()
                streams = self._detach()
                self._reset_counts()
            for stream in streams:
                stream.close(delete=True)
        return purged

    def close(self) -> None:
        with self._consume_lock, self._lock:
            self._closed = True
            streams = self._detach()
        for stream in streams:
            stream.close(delete=stream.unsent_lines == 0)

    def _detach(self) -> list[Stream]:
        """Under ``_lock``: stop writing and hand back every stream, forgetting them."""
        if self._fd >= 0:
            os.close(self._fd)
        streams = list(self._streams.values())
        closed = self._closed
        self._init_state()
        self._closed = closed
        self._epoch += 1  # acks of a batch read before this point are stale
        return streams

    def reset_after_fork(self) -> None:
        # The parent keeps its files, locks and events; filelock resets its own objects.
        for stream in self._streams.values():
            stream.forget()
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._lock = threading.Lock()
        self._consume_lock = threading.Lock()
        self._init_state()
        self._reset_counts()
        self._epoch += 1
