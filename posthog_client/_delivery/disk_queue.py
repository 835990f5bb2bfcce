"""The on-disk queue of persisted mode: survives ``kill -9``, shared safely by many processes.

``put`` runs on the caller's thread and appends the event as one line to this process's current
segment with a single ``write(2)`` (``append``; no fsync: a killed process loses nothing, a
power cut may). When the disk refuses (full, read-only, over budget) ``put`` raises ``OSError``
and ``SpillingQueue`` keeps the event in memory instead.
The worker reads this process's segments and those of dead processes, whose owner lock it can
take (see ``segments``); live owners hold theirs, so no event is ever read by two processes.
Lines that are not events (a crash's torn write, a damaged file) are skipped and counted as
``dropped_corrupt``; over ``max_disk_bytes`` the oldest events are dropped, never the newest.
If the folder is deleted while the process runs, it is re-created under a new owner and the
unsent events of the segment being written are carried over (``_recover``).
"""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Final

from .._log import logger, warn_once
from .._storage_files import file_lock, make_dirs, open_file
from .append import load_append
from .queue import Batch, Counters
from .segments import Segment, Stream, adopt_orphans, is_event_line, read_at

__all__ = ["DiskQueue"]

_OWN_LOCK_TIMEOUT_S: Final = 2.0  # only another process's adoption sweep can hold it briefly
_RESCAN_INTERVAL_S: Final = 30.0  # how soon a running process adopts a dead peer's events
# Read-write so that the segment being written can be read back if its file is deleted.
_WRITE_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_APPEND
_TRIM_LINES: Final = 10_000


class _Position:
    """Where a batch starts: which stream, segment and offset, in which purge epoch."""

    __slots__ = ("epoch", "offset", "seq", "stream")

    def __init__(self, epoch: int, stream: Stream, seq: int, offset: int) -> None:
        self.epoch, self.stream, self.seq, self.offset = epoch, stream, seq, offset


def _new_owner() -> str:
    return f"{time.time_ns():016x}-{os.getpid()}-{os.urandom(3).hex()}"


def _segment_bytes(max_bytes: int) -> int:
    # Small enough that trimming and rotation stay fine-grained under a small budget.
    return min(max(max_bytes // 16, 64 * 1024), 4 * 1024 * 1024, max(max_bytes // 4, 4096))


class DiskQueue:
    """Segment files under ``directory``, at most about ``max_bytes`` of unsent events.

    ``_lock`` (tiny, never held across network I/O) guards the writer and the counters;
    ``_consume_lock`` serializes the reader side (batches, acks, housekeeping, purge, close).
    """

    def __init__(self, directory: Path, max_bytes: int, counters: Counters) -> None:
        self._dir = directory
        self._max_bytes = max_bytes
        self._segment_bytes = _segment_bytes(max_bytes)
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
        self._in_flight = False  # a batch was handed out and not yet acknowledged
        self._next_scan = 0.0

    def _reset_counts(self) -> None:
        # Writers only add to the first pair, the reader to the second: pending() needs no lock.
        self._added_events = self._added_bytes = 0
        self._removed_events = self._removed_bytes = 0

    # -- writer (caller threads) ---------------------------------------------------------------

    def put(self, event: bytes) -> bool:
        """Append one event; False once closed. ``OSError`` when the disk refuses it."""
        line = event + b"\n"
        size = len(line)
        with self._lock:
            if self._closed:
                return False
            if self._added_bytes - self._removed_bytes + size > self._hard_limit:
                raise OSError(errno.ENOSPC, f"queue over max_disk_bytes={self._max_bytes}")
            segment = self._active
            if segment is None or segment.size >= self._segment_bytes:
                segment = self._rotate()
            try:
                written = self._append(self._fd, line)
                if written != size:  # a short write (disk full): keep the file line-aligned
                    os.ftruncate(self._fd, segment.size)
                    raise OSError(errno.ENOSPC, "short write")
            except OSError:
                self._stop_writing()  # the next event goes to a fresh segment
                raise
            segment.size += size
            segment.lines += 1
            self._added_bytes += size
            self._added_events += 1
        return True

    def _rotate(self) -> Segment:
        """Under ``_lock``: start a new segment (and an owner, the first time)."""
        own = self._own
        if own is None:
            make_dirs(self._dir)
            owner = _new_owner()
            lock = file_lock(self._dir / f"{owner}.lock")
            lock.acquire(timeout=_OWN_LOCK_TIMEOUT_S)
            own = Stream(self._dir, owner, lock, strict=False)
            self._own = self._streams[owner] = own
        fd = open_file(own.next_path(), _WRITE_FLAGS)
        segment = own.add_segment()
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._active = fd, segment
        return segment

    def _stop_writing(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._active = -1, None

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
                    try:
                        lines = stream.peek(max_count, max_bytes)
                    except FileNotFoundError:  # deleted by something else: those events are gone
                        self._lost(stream)
                        continue
                    events = self._valid_prefix(stream, lines)
                    if events:
                        at = _Position(epoch, stream, stream.segments[0].seq, stream.offset)
                        self._in_flight = True
                        return Batch(events, at)
                    if lines:
                        continue  # skipped a line that is not an event
                    if not self._finish_head(stream):
                        break
        return None

    def _valid_prefix(self, stream: Stream, lines: list[bytes]) -> list[bytes]:
        """The lines before the first one that is not an event; that one, if first, is
        skipped (acknowledged) and counted."""
        for index, line in enumerate(lines):
            if not is_event_line(line, strict=stream.strict):
                if index:
                    return lines[:index]
                self._removed(1, stream.advance([line]))
                self._counters.drop("corrupt")
                warn_once("corrupt-line", "skipped a queue line that is not an event (damaged)")
                return []
        return lines

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

    def _lost(self, stream: Stream) -> None:
        """The first segment's file is gone: forget it and count its unsent events."""
        with self._lock:
            if stream.segments[0] is self._active:
                self._active = None
        lines, size = stream.finish_head()
        self._counters.drop("vanished", lines)
        self._removed(lines, size)
        warn_once(
            "queue-vanished", "queue files were deleted by another program; %d events lost", lines
        )

    def ack(self, batch: Batch, done: int) -> None:
        at = batch.token
        assert isinstance(at, _Position)
        stream = at.stream
        with self._consume_lock:
            self._in_flight = False
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

    def maintain(self, *, rescan: bool = False) -> None:
        with self._consume_lock:
            self._check_folder()
            if rescan or time.monotonic() >= self._next_scan:
                self._next_scan = time.monotonic() + _RESCAN_INTERVAL_S
                self._adopt_orphans()
            self._trim()

    def _check_folder(self) -> None:
        """Re-create the folder if it was deleted under us (a cleanup tool)."""
        with self._lock:
            if self._closed or self._own is None or self._in_flight:
                return  # (a batch in flight: at the next housekeeping, not to resend it)
            if self._fd >= 0 and os.fstat(self._fd).st_nlink:
                return
            if self._fd < 0 and os.path.isdir(self._dir):  # not writing (a failed write)
                return
            recovered = self._recover()
        logger.warning(
            "queue files in %s were deleted while in use; continuing in new files (%d unsent "
            "events carried over)",
            self._dir,
            recovered,
        )

    def _recover(self) -> int:
        """Under ``_lock``: read back the unsent lines of the deleted segment being written,
        then continue under a new owner in a re-created folder."""
        own, active = self._own, self._active
        assert own is not None
        kept: list[bytes] = []
        if active is not None:
            start = own.offset if own.segments and own.segments[0] is active else 0
            data = read_at(self._fd, active.size - start, start)
            kept = [line for line in data.split(b"\n") if line]
        unsent_lines, unsent_bytes = own.unsent_lines, own.unsent_bytes
        self._streams.pop(own.owner, None)
        own.segments.clear()
        own.close(delete=False)
        self._stop_writing()
        self._own = None
        self._removed_events += unsent_lines
        self._removed_bytes += unsent_bytes
        self._counters.drop("vanished", unsent_lines - len(kept))
        self._rotate()
        for line in kept:
            self._append(self._fd, line + b"\n")
            assert self._active is not None
            self._active.size += len(line) + 1
            self._active.lines += 1
            self._added_events += 1
            self._added_bytes += len(line) + 1
        return len(kept)

    def _adopt_orphans(self) -> None:
        """Take over the files of owners whose lock is free: their process is gone."""
        for stream in adopt_orphans(self._dir, set(self._streams)):
            with self._lock:
                self._streams[stream.owner] = stream
                self._added_events += stream.unsent_lines
                self._added_bytes += stream.unsent_bytes
            logger.debug("adopted %d unsent events of an earlier process", stream.unsent_lines)

    def _trim(self) -> None:
        """Drop the oldest events while over ``max_disk_bytes``."""
        dropped = 0
        for owner in sorted(self._streams):
            stream = self._streams[owner]
            while stream.segments and self._excess() > 0:
                with self._lock:
                    active = stream.segments[0] is self._active
                head = stream.segments[0]
                if not active and head.size - stream.offset <= self._excess():
                    lines, size = stream.finish_head()  # a whole old segment at once
                else:
                    oldest = stream.peek(_TRIM_LINES, self._excess())
                    if not oldest:
                        break  # only a line still being written
                    lines, size = len(oldest), stream.advance(oldest)
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
