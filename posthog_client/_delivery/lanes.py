"""Writer lanes of the disk queue: each capturing thread appends to a segment stream of its own.

With one stream per process, threads capturing at once queued up on its lock, and a thread
switched out while holding it (every 5 ms the interpreter hands the GIL to another thread) made
all the others wait: 4 threads reached a third of one thread's rate, with p99 in milliseconds.
A lane is an owner of its own in the queue folder (lock file, progress file, segments): the
queue already adopts many owners' streams, so each lane is written, read, acknowledged,
recovered after a crash and adopted by the next process like any owner. Its lock is held only
by its own writers (a thread has its lane; threads share lanes only beyond ``MAX_LANES``) and
briefly by the reader at a rotation or housekeeping, so capturing threads never wait for one
another, and its counters have a single writer each.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Final

from .._storage_files import open_file
from .lines import REFER, definition

if TYPE_CHECKING:
    from .._events.encoding import SharedProperties
    from .segments import Segment, Stream

__all__ = ["MAX_LANES", "Lane"]

# More lanes than threads running Python at once gain nothing (one holds the GIL at a time) and
# each costs three file descriptors; beyond it threads share lanes, which stays correct.
MAX_LANES: Final = 16
# Read-write so that the segment being written can be read back if its file is deleted.
_WRITE_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_APPEND


class Lane:
    """One stream's writer: its open segment and what that segment has defined.

    Everything but ``stream`` changes only under ``lock``; ``added_*`` only grow.
    """

    __slots__ = (
        "added_bytes",
        "added_events",
        "fd",
        "last_prefix",
        "last_shared",
        "lock",
        "prefixes",
        "retired",
        "segment",
        "stream",
    )

    def __init__(self, stream: Stream) -> None:
        self.lock = threading.RLock()  # reentrant: a rotation may trim, which checks lanes
        self.stream = stream
        self.fd = -1
        self.segment: Segment | None = None  # None: the next write opens a segment
        self.retired = False  # closed or purged: writers must take another lane
        self.added_events = self.added_bytes = 0
        # shared properties this segment defined -> the prefix of the lines that use them
        self.prefixes: dict[SharedProperties, bytes] = {}
        self.last_shared: SharedProperties | None = None
        self.last_prefix = b""

    def open_segment(self, born: int) -> Segment:
        """Under ``lock``: continue in a new segment file (``OSError`` if it cannot be made)."""
        fd = open_file(self.stream.next_path(), _WRITE_FLAGS)
        segment = self.stream.add_segment(born)
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.segment = fd, segment
        self.prefixes.clear()  # numbers are per segment
        self.last_shared = None
        return segment

    def encode(self, event: bytes, shared: SharedProperties | None) -> bytes:
        """Under ``lock``: the bytes that append ``event`` (with ``shared`` properties spliced
        in when read) to the open segment, defining ``shared`` first if it is new there."""
        if shared is None:
            return event + b"\n"
        if shared is self.last_shared:
            return self.last_prefix + event + b"\n"
        prefix = self.prefixes.get(shared)
        head = b""
        if prefix is None:
            key = b"%d" % len(self.prefixes)
            prefix = self.prefixes[shared] = REFER + key
            head = definition(key, shared.members)
        self.last_shared, self.last_prefix = shared, prefix
        return b"".join((head, prefix, event, b"\n"))

    def stop_writing(self) -> None:
        """Under ``lock``: close the segment; the next write opens a new one."""
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.segment = -1, None

    def retire(self) -> None:
        """Under ``lock``: no more writes here (the queue closed or purged its streams)."""
        self.stop_writing()
        self.retired = True
