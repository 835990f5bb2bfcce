"""The disk queue's housekeeping: adopting dead owners' streams, keeping ``max_disk_bytes``,
re-creating a folder deleted under the queue. Mixed into ``DiskQueue``, on the reader side
(``maintain``: the worker, or ``flush``), and trimming also by a writer starting a segment.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Final

from .._log import logger, warn_once
from .lines import Decoder, count_events
from .segments import adopt_orphans, read_at

if TYPE_CHECKING:
    import itertools
    from collections.abc import Callable
    from pathlib import Path

    from .lanes import Lane
    from .queue import Counters
    from .segments import Stream

__all__ = ["Upkeep"]

_RESCAN_INTERVAL_S: Final = 30.0  # how soon a running process adopts a dead peer's events
_TRIM_LINES: Final = 10_000


class Upkeep:
    """What ``DiskQueue`` keeps, for its housekeeping (see there for the locks)."""

    _dir: Path
    _max_bytes: int
    _counters: Counters
    _lock: threading.Lock
    _consume_lock: threading.Lock
    _streams: dict[str, Stream]
    _live: dict[str, Lane]
    _lane_list: tuple[Lane, ...]
    _born: itertools.count[int]
    _closed: bool
    _in_flight: bool
    _folder_due: bool
    _append: Callable[[int, bytes], int]
    _next_scan: float
    _adopted_events: int
    _adopted_bytes: int
    _removed_events: int
    _removed_bytes: int

    def _new_stream(self) -> Stream:
        raise NotImplementedError

    def _excess(self) -> int:
        raise NotImplementedError

    def _writing(self, stream: Stream) -> bool:
        raise NotImplementedError

    def _removed(self, events: int, size: int) -> None:
        raise NotImplementedError

    def _release_if_done(self, stream: Stream) -> None:
        raise NotImplementedError

    def maintain(self, *, rescan: bool = False) -> None:
        with self._consume_lock:
            self._check_folder()
            if rescan or time.monotonic() >= self._next_scan:
                self._next_scan = time.monotonic() + _RESCAN_INTERVAL_S
                self._adopt_orphans()
            self._trim()

    def _adopt_orphans(self) -> None:
        """Take over the files of owners whose lock is free: their process is gone."""
        for stream in adopt_orphans(self._dir, set(self._streams)):
            with self._lock:
                self._streams[stream.owner] = stream
                self._adopted_events += stream.unsent_lines
                self._adopted_bytes += stream.unsent_bytes
            logger.debug("adopted %d unsent events of an earlier process", stream.unsent_lines)

    def _trim(self) -> None:
        """Drop the oldest events while over ``max_disk_bytes``."""
        dropped = 0
        exhausted: set[str] = set()  # nothing more to drop there now: a line being written
        while (excess := self._excess()) > 0:
            with self._lock:
                streams = [s for s in self._streams.values() if s.segments]
            streams = [s for s in streams if s.owner not in exhausted]
            if not streams:
                break
            stream = min(streams, key=lambda s: (s.segments[0].born, s.owner))
            head = stream.segments[0]
            if not self._writing(stream) and head.size - stream.offset <= excess:
                lines, size = stream.finish_head()  # a whole old segment at once
            else:
                oldest = stream.peek(_TRIM_LINES, excess)
                if not oldest:
                    exhausted.add(stream.owner)
                    continue
                lines = count_events(oldest)
                size = stream.advance(oldest, lines)
            dropped += lines
            self._removed(lines, size)
            self._release_if_done(stream)
        if dropped:
            self._counters.drop("disk_full", dropped)
            warn_once(
                "disk-queue-trim",
                "disk queue over max_disk_bytes=%d: dropped the %d oldest events",
                self._max_bytes,
                dropped,
            )

    def _check_folder(self) -> None:
        """Re-create the folder if it was deleted under us (a cleanup tool)."""
        if self._closed:
            return
        self._folder_due = self._in_flight  # then at its ack: not to resend the batch
        if self._folder_due:
            return
        for lane in self._lane_list:
            with lane.lock:
                if lane.retired:
                    continue
                segment_kept = lane.fd < 0 or os.fstat(lane.fd).st_nlink  # (-1: a failed write)
                if segment_kept and not lane.stream.deleted():
                    continue
                recovered = self._recover(lane)
            logger.warning(
                "queue files in %s were deleted while in use; continuing in new files (%d "
                "unsent events carried over)",
                self._dir,
                recovered,
            )

    def _recover(self, lane: Lane) -> int:
        """Under the lane's lock: read back the unsent events of the deleted segment being
        written, then continue under a new owner in a re-created folder."""
        old, active = lane.stream, lane.segment
        kept: list[bytes] = []
        if active is not None:
            start = old.offset if old.segments and old.segments[0] is active else 0
            data = read_at(lane.fd, active.size, 0)
            decoder = Decoder()
            for line in data[:start].split(b"\n"):
                decoder.learn(line)
            unsent = data[start:].split(b"\n")[:-1]
            kept = decoder.decode(unsent, 1 << 62, False, list).events
        unsent_lines = old.unsent_lines
        with self._lock:
            self._streams.pop(old.owner, None)
            self._live.pop(old.owner, None)
            self._removed_events += unsent_lines
            self._removed_bytes += old.unsent_bytes
        old.segments.clear()
        old.close(delete=False)
        lane.stop_writing()
        self._counters.drop("vanished", unsent_lines - len(kept))
        with self._lock:
            lane.stream = self._new_stream()
            self._live[lane.stream.owner] = lane
        segment = lane.open_segment(next(self._born))
        for event in kept:  # whole events now: their definitions stayed in the old file
            line = event + b"\n"
            self._append(lane.fd, line)
            segment.size += len(line)
            segment.lines += 1
            lane.added_events += 1
            lane.added_bytes += len(line)
        return len(kept)
