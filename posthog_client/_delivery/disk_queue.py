"""The on-disk queue of persisted mode: survives ``kill -9``, shared safely by many processes.

``put`` runs on the caller's thread and appends the event as one line to the current segment
of the thread's lane (``lanes``: threads never wait for one another) with a single ``write(2)``
(``append``; no fsync: a killed process loses nothing, a power cut may). Properties shared by
many events are written once per segment (``lines``). When the disk refuses (full, read-only,
over budget) ``put`` raises ``OSError`` and ``SpillingQueue`` keeps the event in memory instead.
The worker reads this process's lanes and the streams of dead processes, whose owner lock it can
take (see ``segments``); live owners hold theirs, so no event is ever read by two processes.
Lines that are not events (a crash's torn write, a damaged file) are skipped and counted as
``dropped_corrupt``. Over ``max_disk_bytes`` the oldest events are dropped, never the newest:
by the worker's housekeeping, and by a writer starting a segment when the worker is busy.
A deleted folder is re-created (``upkeep``).
"""

from __future__ import annotations

import errno
import itertools
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._log import warn_once
from .._storage_files import file_lock, make_dirs
from .append import load_append
from .lanes import MAX_LANES, Lane
from .lines import Decoded, count_events
from .queue import Batch, Counters
from .segments import Segment, Stream
from .upkeep import Upkeep

if TYPE_CHECKING:
    from .._events.encoding import SharedProperties

__all__ = ["DiskQueue"]

_OWN_LOCK_TIMEOUT_S: Final = 2.0  # only another process's adoption sweep can hold it briefly
_MAX_THREADS_REMEMBERED: Final = 1024  # thread -> lane entries kept (ids of ended threads too)
_get_ident = threading.get_ident


class _Position:
    """Where a batch starts: which stream, segment and offset, in which purge epoch."""

    __slots__ = ("decoded", "epoch", "offset", "seq", "stream")

    def __init__(self, epoch: int, stream: Stream, decoded: Decoded) -> None:
        self.epoch, self.stream, self.decoded = epoch, stream, decoded
        self.seq, self.offset = stream.segments[0].seq, stream.offset


def _new_owner() -> str:
    return f"{time.time_ns():016x}-{os.getpid()}-{os.urandom(3).hex()}"


def _segment_bytes(max_bytes: int) -> int:
    # Small enough that trimming and rotation stay fine-grained under a small budget.
    return min(max(max_bytes // 16, 64 * 1024), 4 * 1024 * 1024, max(max_bytes // 4, 4096))


def _age(stream: Stream) -> tuple[int, str]:
    """Oldest first: earlier runs' streams by owner (P3), then this run's by segment age."""
    return (stream.segments[0].born if stream.segments else 0, stream.owner)


class DiskQueue(Upkeep):
    """Segment files under ``directory``, at most about ``max_bytes`` of unsent events.

    Locks, always taken in this order: ``_consume_lock`` serializes the reader side (batches,
    acks, housekeeping, purge, close); a lane's ``lock`` its writers; ``_lock`` (innermost,
    tiny) the set of streams and lanes and the reader's counters. A writer holding its lane's
    lock only ever *tries* ``_consume_lock``. None is held across network I/O.
    """

    def __init__(self, directory: Path, max_bytes: int, counters: Counters) -> None:
        self._dir = directory
        self._max_bytes = max_bytes
        self._segment_bytes = _segment_bytes(max_bytes)
        # Over this no one could trim in time (the worker stuck reading): refuse, spill.
        self._hard_limit = max_bytes + 2 * self._segment_bytes
        self._counters = counters
        self._append = load_append()
        self._lock = threading.Lock()
        self._consume_lock = threading.Lock()
        self._epoch = 0
        self._born = itertools.count(1)
        self._init_state()
        lane = self._lane()  # fail now, not on the first event, if the folder is unusable
        assert lane is not None
        with lane.lock:
            lane.open_segment(next(self._born))

    def _init_state(self) -> None:
        self._streams: dict[str, Stream] = {}  # every stream read: lanes' and adopted ones
        self._live: dict[str, Lane] = {}  # owner -> the lane writing that stream
        self._lanes: dict[int, Lane] = {}  # thread id -> its lane
        self._lane_list: tuple[Lane, ...] = ()
        self._closed = False
        self._in_flight = False  # a batch was handed out and not yet acknowledged
        self._folder_due = False  # the folder check waits for the batch in flight
        self._next_scan = 0.0
        # Events and bytes adopted and removed; lanes count what they added themselves.
        self._adopted_events = self._adopted_bytes = 0
        self._removed_events = self._removed_bytes = 0

    # -- writers (caller threads) --------------------------------------------------------------

    def put(self, event: bytes, shared: SharedProperties | None = None) -> bool:
        """Append one event (``shared`` spliced into its properties when it is read); False
        once closed. ``OSError`` when the disk refuses it."""
        lane = self._lanes.get(_get_ident()) or self._lane()
        if lane is None:
            return False  # closed
        lock = lane.lock
        lock.acquire()  # (not `with`: half the cost on this path)
        try:
            segment = lane.segment
            if segment is None or segment.size >= self._segment_bytes:
                segment = self._rotate(lane)
            if segment is not None:
                if shared is not None and shared is lane.last_shared:  # the common case, inline
                    data = lane.last_prefix + event + b"\n"
                else:
                    data = lane.encode(event, shared)
                size = len(data)
                try:
                    written = self._append(lane.fd, data)
                    if written != size:  # a short write (disk full): keep the file line-aligned
                        os.ftruncate(lane.fd, segment.size)
                        raise OSError(errno.ENOSPC, "short write")
                except OSError:
                    lane.stop_writing()  # the next event goes to a fresh segment
                    raise
                segment.size += size
                segment.lines += 1
                lane.added_events += 1
                lane.added_bytes += size
                return True
        finally:
            lock.release()
        return not self._closed and self.put(event, shared)  # retired by purge: a new lane

    def _lane(self) -> Lane | None:
        """This thread's lane: a new one while there are fewer than ``MAX_LANES``; None once
        closed."""
        with self._lock:
            lanes = self._lane_list
            if self._closed:
                return None
            if len(lanes) < MAX_LANES:
                lane = Lane(self._new_stream())
                self._live[lane.stream.owner] = lane
                self._lane_list = (*lanes, lane)
            else:
                lane = lanes[len(self._lanes) % len(lanes)]
            if len(self._lanes) >= _MAX_THREADS_REMEMBERED:
                self._lanes = {}
            self._lanes[_get_ident()] = lane
            return lane

    def _new_stream(self) -> Stream:
        """Under ``_lock``: a stream of a new owner, whose lock this process holds."""
        make_dirs(self._dir)
        owner = _new_owner()
        lock = file_lock(self._dir / f"{owner}.lock")
        lock.acquire(timeout=_OWN_LOCK_TIMEOUT_S)
        stream = self._streams[owner] = Stream(self._dir, owner, lock, strict=False)
        return stream

    def _rotate(self, lane: Lane) -> Segment | None:
        """Under the lane's lock: its next segment, within budget; None if it is retired."""
        if lane.retired:
            return None
        if self._excess() > 0 and self._consume_lock.acquire(blocking=False):
            try:  # the worker may be busy (a slow request): keep the newest events now
                self._trim()
            finally:
                self._consume_lock.release()
        if self._excess() > self._hard_limit - self._max_bytes:
            raise OSError(errno.ENOSPC, f"queue over max_disk_bytes={self._max_bytes}")
        return lane.open_segment(next(self._born))

    def pending(self) -> int:
        events = self._adopted_events - self._removed_events
        for lane in self._lane_list:
            events += lane.added_events
        return events

    def _excess(self) -> int:
        size = self._adopted_bytes - self._removed_bytes - self._max_bytes
        for lane in self._lane_list:
            size += lane.added_bytes
        return size

    # -- reader (the worker, or the caller in sync mode) -----------------------------------

    def next_batch(self, max_count: int, max_bytes: int) -> Batch | None:
        with self._consume_lock:
            with self._lock:
                streams = sorted(self._streams.values(), key=_age)
                epoch = self._epoch
            for stream in streams:
                while stream.segments:
                    try:
                        lines = stream.peek(max_count, max_bytes)
                        decoded = stream.decoder.decode(
                            lines, max_bytes, stream.strict, stream.rescan
                        )
                    except FileNotFoundError:  # deleted by something else: those events are gone
                        self._lost(stream)
                        continue
                    if decoded.events:
                        self._in_flight = True
                        return Batch(decoded.events, _Position(epoch, stream, decoded))
                    if decoded.skip:  # a line that is not an event, first: skip it
                        skipped = lines[: decoded.skip]
                        events = count_events(skipped)
                        self._removed(events, stream.advance(skipped, events))
                        self._counters.drop("corrupt")
                        warn_once("corrupt-line", "skipped a queue line that is not an event")
                    elif lines:  # only definitions so far
                        self._removed(0, stream.advance(lines, 0))
                    elif not self._finish_head(stream):
                        break
        return None

    def _writing(self, stream: Stream) -> bool:
        """Whether the first segment of ``stream`` is still being written."""
        lane = self._live.get(stream.owner)
        if lane is None:
            return False
        with lane.lock:
            return bool(stream.segments) and stream.segments[0] is lane.segment

    def _finish_head(self, stream: Stream) -> bool:
        """Delete a fully read first segment; False if it is still being written."""
        if self._writing(stream):
            return False
        if stream.peek(1, 1):  # written to after our last read, then rotated: not done yet
            return True
        lines, size = stream.finish_head()
        if size:  # a crashed writer's torn last line: not an event
            self._counters.drop("corrupt", max(lines, 1))
        self._removed(lines, size)
        self._release_if_done(stream)
        return True

    def _lost(self, stream: Stream) -> None:
        """The first segment's file is gone: forget it and count its unsent events."""
        lane = self._live.get(stream.owner)
        if lane is not None:
            with lane.lock:
                if stream.segments[0] is lane.segment:
                    lane.segment = None  # the next write opens a new file
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
            if (  # else purged or trimmed meanwhile
                done > 0
                and at.epoch == self._epoch
                and stream.segments
                and stream.segments[0].seq == at.seq
                and stream.offset == at.offset
            ):
                self._removed(done, stream.advance(at.decoded.lines_for(done), done))
            if self._folder_due:
                self._check_folder()

    def _removed(self, events: int, size: int) -> None:
        with self._lock:
            self._removed_events += events
            self._removed_bytes += size

    def _release_if_done(self, stream: Stream) -> None:
        """Forget an earlier run's stream once it is empty, deleting its files."""
        if not stream.segments and stream.owner not in self._live:
            with self._lock:
                self._streams.pop(stream.owner, None)
            stream.close(delete=True)

    # -- the end -------------------------------------------------------------------------------

    def purge(self) -> int:
        with self._consume_lock:
            self._adopt_orphans()  # opt-out: what earlier runs left must not leave either
            self._retire_lanes()
            with self._lock:
                purged = self.pending()
                streams = list(self._streams.values())
                closed = self._closed
                self._init_state()
                self._closed = closed
                self._epoch += 1  # acks of a batch read before this point are stale
            for stream in streams:
                stream.close(delete=True)
        return purged

    def close(self) -> None:
        with self._consume_lock:
            with self._lock:
                self._closed = True
            self._retire_lanes()
            with self._lock:
                streams = list(self._streams.values())
                self._streams.clear()
                self._live.clear()
                self._epoch += 1
            for stream in streams:
                stream.close(delete=stream.unsent_lines == 0)

    def _retire_lanes(self) -> None:
        for lane in self._lane_list:
            with lane.lock:
                lane.retire()

    def reset_after_fork(self) -> None:
        # The parent keeps its files, locks and events; filelock resets its own objects.
        for stream in self._streams.values():
            stream.forget()
        for lane in self._lane_list:
            if lane.fd >= 0:
                try:
                    os.close(lane.fd)
                except OSError:
                    pass
        self._lock = threading.Lock()
        self._consume_lock = threading.Lock()
        self._init_state()
        self._epoch += 1
