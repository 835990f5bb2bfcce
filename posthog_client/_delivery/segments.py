"""One owner's segment files: reading their lines in order and recording progress durably.

Layout in the queue folder, per owner (one owner per process and pipeline)::

    <owner>.lock            held (filelock) by whoever currently owns the files
    <owner>.pos             "<seq> <offset>": where the first unsent line starts
    <owner>.<seq>.seg       encoded events, one per line, appended by the owner (``lines``)

``<owner>`` starts with the creation time in hex, so sorting names sorts owners by age.
Progress is written after each acknowledged batch and a segment is deleted only after the
progress file points past it, so a crash loses nothing and re-sends at most the batch that was
in flight. Lines are checked before they are sent (``lines.is_event_line``): one corrupt, torn
or blank line is skipped and counted, never sent to make the whole batch invalid.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._fork_safety import lazy_imports
from .._log import clip, warn_once
from .._storage_files import file_lock, open_file
from .lines import DEFINE, Decoder, fit

if TYPE_CHECKING:
    from filelock import BaseFileLock

__all__ = ["Segment", "Stream", "adopt_orphans", "read_at", "segment_path"]

_READ_CHUNK: Final = 1 << 20
_POS_FORMAT: Final = b"%020d %020d\n"  # fixed width: each update overwrites the previous one


def segment_path(directory: Path, owner: str, seq: int) -> Path:
    return directory / f"{owner}.{seq:08d}.seg"


def read_at(fd: int, size: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # Windows has no pread; only one thread reads this fd
    return os.read(fd, size)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Segment:
    __slots__ = ("born", "lines", "path", "seq", "size")

    def __init__(self, seq: int, path: Path, size: int = 0, lines: int = 0, born: int = 0):
        self.seq = seq
        self.path = path
        self.size = size  # bytes of complete lines (a crashed writer's torn tail lies beyond)
        self.lines = lines  # events among them (definitions are not counted)
        self.born = born  # creation order among this process's segments (0: an earlier run's)


class Stream:
    """The segments of one owner, oldest first, read from ``offset`` of the first one.

    The caller holds the owner's lock for the stream's whole life and serializes reads.
    """

    def __init__(
        self, directory: Path, owner: str, lock: BaseFileLock, *, strict: bool = True
    ) -> None:
        self.owner = owner
        self.lock = lock
        self.strict = strict  # parse each line before sending it (see is_event_line)
        self.segments: list[Segment] = []
        self.offset = 0  # in segments[0]
        self.lines_done = 0  # events of segments[0] before offset
        self.decoder = Decoder()  # the shared properties defined in segments[0]
        self.next_seq = 0
        self._dir = directory
        self._pos_path = directory / f"{owner}.pos"
        try:
            self._pos_fd = open_file(self._pos_path, os.O_RDWR | os.O_CREAT)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            _unlink(self._pos_path)  # a planted symlink: remove the link, never write through it
            self._pos_fd = open_file(self._pos_path, os.O_RDWR | os.O_CREAT)
        self._read_fd = -1
        self._buf = b""  # read-ahead of segments[0], starting at file offset _buf_off
        self._buf_off = 0

    @classmethod
    def load(cls, directory: Path, owner: str, lock: BaseFileLock, seqs: list[int]) -> Stream:
        """The unsent part of a dead owner's files, whose lock the caller has just acquired."""
        stream = cls(directory, owner, lock)
        pos_seq, pos_offset = stream._read_pos()
        for seq in sorted(seqs):
            path = segment_path(directory, owner, seq)
            if seq < pos_seq:  # fully sent; the crash came before its deletion
                _unlink(path)
                continue
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(info.st_mode):  # a symlink or a folder: nothing we wrote
                continue
            size = info.st_size
            start = min(pos_offset, size) if seq == pos_seq else 0
            if not stream.segments:
                stream.offset = start
            stream.segments.append(Segment(seq, path, size, _count_lines(path, start)))
            stream.next_seq = seq + 1
        return stream

    @property
    def unsent_lines(self) -> int:
        return sum(s.lines for s in self.segments) - self.lines_done

    @property
    def unsent_bytes(self) -> int:
        return sum(s.size for s in self.segments) - self.offset

    def next_path(self) -> Path:
        return segment_path(self._dir, self.owner, self.next_seq)

    def add_segment(self, born: int) -> Segment:
        segment = Segment(self.next_seq, self.next_path(), born=born)
        self.next_seq += 1
        self.segments.append(segment)
        return segment

    def peek(self, max_count: int, max_bytes: int) -> list[bytes]:
        """Up to ``max_count`` whole lines (about ``max_bytes``) from ``offset``; no newlines."""
        head = self.segments[0]
        if self._read_fd < 0:
            self._read_fd = open_file(head.path, os.O_RDONLY)
            self._buf, self._buf_off = b"", self.offset
        while True:
            lines = self._buf[self.offset - self._buf_off :].split(b"\n", max_count)
            lines.pop()  # the part after the last newline: empty, or a line still being read
            events = fit(lines, max_bytes)
            if len(events) == max_count or len(events) < len(lines) or not self._read_more(head):
                return events

    def _read_more(self, head: Segment) -> bool:
        # Read ahead in large chunks and keep only what is not yet acknowledged: memory stays
        # near one batch whatever the backlog on disk.
        end = self._buf_off + len(self._buf)
        chunk = read_at(self._read_fd, min(_READ_CHUNK, head.size - end), end)
        if not chunk:
            return False
        self._buf = self._buf[self.offset - self._buf_off :] + chunk
        self._buf_off = self.offset
        return True

    def rescan(self) -> list[bytes]:
        """The lines of the first segment before ``offset`` (for definitions read before)."""
        fd = self._read_fd if self._read_fd >= 0 else open_file(self.segments[0].path, os.O_RDONLY)
        try:
            return read_at(fd, self.offset, 0).split(b"\n")
        finally:
            if fd != self._read_fd:
                os.close(fd)

    def advance(self, lines: list[bytes], events: int) -> int:
        """Mark ``lines`` (the start of the last peek), ``events`` of them events, as done;
        returns their size in bytes."""
        size = sum(map(len, lines)) + len(lines)
        self.offset += size
        self.lines_done += events
        self._write_pos()
        return size

    def finish_head(self) -> tuple[int, int]:
        """Drop the first segment from ``offset`` on; returns the (lines, bytes) dropped."""
        head = self.segments.pop(0)
        dropped = (head.lines - self.lines_done, head.size - self.offset)
        self.decoder.clear()
        self._close_reader()
        self.offset = self.lines_done = 0
        self._write_pos()  # points past the segment before it goes
        _unlink(head.path)
        return dropped

    def close(self, *, delete: bool) -> None:
        """Release the files and the lock; ``delete`` removes them first (all sent, or purge)."""
        self._close_reader()
        os.close(self._pos_fd)
        if delete:
            for segment in self.segments:
                _unlink(segment.path)
            _unlink(self._pos_path)
            _unlink(Path(self.lock.lock_file))  # last: the owner is gone only once this is
        self.lock.release()

    def deleted(self) -> bool:
        """Whether the stream's files were deleted under it (its progress file is gone)."""
        return os.fstat(self._pos_fd).st_nlink == 0

    def forget(self) -> None:
        """In a forked child: close our copies of the descriptors, touch nothing else."""
        for fd in (self._read_fd, self._pos_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _close_reader(self) -> None:
        if self._read_fd >= 0:
            os.close(self._read_fd)
            self._read_fd = -1
        self._buf = b""

    def _write_pos(self) -> None:
        seq = self.segments[0].seq if self.segments else self.next_seq
        try:
            os.lseek(self._pos_fd, 0, os.SEEK_SET)
            os.write(self._pos_fd, _POS_FORMAT % (seq, self.offset))
        except OSError as exc:  # a full disk: a crash now would re-send, never lose
            warn_once(
                "pos-write", "cannot record delivery progress (%s): events may be resent", exc
            )

    def _read_pos(self) -> tuple[int, int]:
        try:
            seq, offset = os.read(self._pos_fd, 64).split()
            return max(int(seq), 0), max(int(offset), 0)
        except ValueError:  # empty (never acknowledged anything) or unreadable: start over
            return 0, 0


def _count_lines(path: Path, start: int) -> int:
    """The complete lines from ``start`` on that are events (not definitions)."""
    count = 0
    fd = open_file(path, os.O_RDONLY)
    try:
        line_start, open_definition = True, False  # the line that goes on is a definition
        while chunk := read_at(fd, _READ_CHUNK, start):
            starts_definition = line_start and chunk[:1] == DEFINE
            count += chunk.count(b"\n") - chunk.count(b"\n" + DEFINE) - starts_definition
            last = chunk.rfind(b"\n")
            if last >= 0:
                open_definition = chunk[last + 1 : last + 2] == DEFINE
            elif line_start:
                open_definition = starts_definition
            line_start = chunk[-1:] == b"\n"
            start += len(chunk)
    finally:
        os.close(fd)
    return count + open_definition  # a torn definition was subtracted, never counted


def adopt_orphans(directory: Path, known: set[str]) -> list[Stream]:
    """The unsent files of owners in ``directory`` (other than ``known``) whose lock is free,
    their process being gone; the caller now holds their locks. A name that only looks like an
    owner's (a folder called ``x.lock``) is skipped with a WARNING, never an abort."""
    with lazy_imports():
        from filelock import Timeout

    try:
        names = os.listdir(directory)
    except OSError:
        return []  # gone or unreadable: the queue re-creates it
    seqs: dict[str, list[int]] = {}
    for name in names:
        owner, _, rest = name.partition(".")
        if rest in ("lock", "pos"):
            seqs.setdefault(owner, [])
        elif rest.endswith(".seg") and rest[:-4].isdigit():
            seqs.setdefault(owner, []).append(int(rest[:-4]))
    adopted: list[Stream] = []
    for owner in sorted(seqs.keys() - known):
        lock = file_lock(directory / f"{owner}.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # alive, or being adopted by another process right now
        except OSError as exc:  # e.g. a folder named like a lock file: not an owner
            warn_once(f"adopt-{owner}", "cannot adopt queue files of %s: %s", clip(owner), exc)
            continue
        try:
            stream = Stream.load(directory, owner, lock, seqs[owner])
        except OSError as exc:
            lock.release()
            warn_once(f"adopt-{owner}", "cannot adopt queue files of %s: %s", clip(owner), exc)
            continue
        if stream.segments:
            adopted.append(stream)
        else:
            stream.close(delete=True)
    return adopted
