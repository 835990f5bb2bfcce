"""The lines of a segment file, and turning them back into events.

A segment holds one line per event, in one of two forms, and the definitions they refer to::

    {"event":...}            a whole event (the only form before 0.2; also spilled events)
    =3{"$lib":...,"$os":...} shared properties number 3 of this segment (not an event)
    @3{"event":...}          an event whose properties start with shared properties 3

The properties every event of one identity state carries (SDK context, device id, super
properties: about 300 bytes) are so written once per segment instead of once per event, which
halves what the disk queue writes and the worker reads back. ``Decoder`` restores whole events,
byte for byte what ``encoding.with_shared`` makes of them, so the wire never sees the short form
(an event written with shared properties always has properties of its own).
Numbers are per segment (a writer restarts at 0 in each new segment) and a definition always
comes before the first line that refers to it, in the same write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from .._events.encoding import splice_for, with_shared

__all__ = [
    "DEFINE",
    "REFER",
    "Decoded",
    "Decoder",
    "count_events",
    "definition",
    "fit",
    "is_event_line",
]

DEFINE: Final = b"="
REFER: Final = b"@"
_EVENT: Final = b"{"


def definition(key: bytes, members: bytes) -> bytes:
    """The line (with its newline) defining shared properties ``key`` (their JSON members)."""
    return b"".join((DEFINE, key, b"{", members, b"}\n"))


def count_events(lines: list[bytes]) -> int:
    """How many of ``lines`` are events (not definitions)."""
    return len(lines) - sum(line[:1] == DEFINE for line in lines)


class Decoded:
    """Events read from the start of a stream: ``used[i]`` is how many raw lines the first
    ``i + 1`` events span (None when every line is an event); ``skip`` raw lines (the last one
    damaged) precede everything when no event could be read."""

    __slots__ = ("events", "lines", "skip", "used")

    def __init__(self, events: list[bytes], lines: list[bytes], used: list[int] | None) -> None:
        self.events = events
        self.lines = lines
        self.used = used
        self.skip = 0

    def lines_for(self, done: int) -> list[bytes]:
        """The raw lines of the first ``done`` events."""
        return self.lines[: done if self.used is None else self.used[done - 1]]


class Decoder:
    """The definitions of one segment, learnt as its lines are read. ``rescan`` reads those
    before the current position (a stream adopted halfway through a segment)."""

    __slots__ = ("_splices",)

    def __init__(self) -> None:
        self._splices: dict[bytes, bytes] = {}  # number -> encoding.splice_for(its members)

    def clear(self) -> None:
        """A new segment: its numbers mean something else."""
        self._splices.clear()

    def learn(self, line: bytes) -> None:
        if line[:1] == DEFINE:
            brace = line.find(b"{")
            if brace > 0 and line[-1:] == b"}":
                self._splices[line[1:brace]] = splice_for(line[brace + 1 : -1])

    def decode(
        self,
        lines: list[bytes],
        max_bytes: int,
        strict: bool,
        rescan: Callable[[], list[bytes]],
    ) -> Decoded:
        """The leading events of ``lines`` (at most about ``max_bytes`` once restored), up to
        the first line that is not an event (see ``is_event_line`` for ``strict``); if that is
        the first, ``skip`` covers it. ``rescan`` returns the lines before ``lines``."""
        decoded = None if strict else self._decode_run(lines, max_bytes)
        if decoded is not None:
            return decoded
        events: list[bytes] = []
        used: list[int] = []
        size = 0
        for index, line in enumerate(lines):
            first = line[:1]
            if first == DEFINE:
                self.learn(line)
                continue
            event = self._restore(line, rescan) if first == REFER else line
            if event is None or not is_event_line(event, strict=strict):
                if events:
                    break
                decoded = Decoded([], lines, None)
                decoded.skip = index + 1
                return decoded
            size += len(event) + 1
            if events and size > max_bytes:
                break
            events.append(event)
            used.append(index + 1)
        return Decoded(events, lines, used)

    def _decode_run(self, lines: list[bytes], max_bytes: int) -> Decoded | None:
        """This process's lines in their usual shape, in a few C loops instead of one Python
        loop per line (the worker holds the GIL meanwhile): definitions, then whole events or
        references to one definition only. None when they are shaped otherwise."""
        start = 0
        while start < len(lines) and lines[start][:1] == DEFINE:
            self.learn(lines[start])
            start += 1
        run = lines[start:] if start else lines
        if not run:
            return None
        head = run[0]
        if head[:1] == REFER:
            brace = head.find(b"{")
            splice = self._splices.get(head[1:brace])
            prefix = head[: brace + 1]
            if splice is None or not all(
                line.startswith(prefix) and line[-1:] == b"}" for line in run
            ):
                return None
            events = fit([with_shared(line[brace:], splice) for line in run], max_bytes)
        elif all(line[:1] == _EVENT and line[-1:] == b"}" for line in run):
            events = fit(run, max_bytes)
        else:
            return None
        return Decoded(
            events, lines, [start + i + 1 for i in range(len(events))] if start else None
        )

    def _restore(self, line: bytes, rescan: Callable[[], list[bytes]]) -> bytes | None:
        brace = line.find(b"{")
        if brace < 0:
            return None
        key = line[1:brace]
        splice = self._splices.get(key)
        if splice is None:
            for earlier in rescan():
                self.learn(earlier)
            splice = self._splices.get(key)
            if splice is None:  # its definition is gone: a damaged file
                return None
        return with_shared(line[brace:], splice)


def fit(lines: list[bytes], max_bytes: int) -> list[bytes]:
    """The leading lines whose total size stays within ``max_bytes`` (at least one)."""
    if sum(map(len, lines)) + len(lines) <= max_bytes:
        return lines
    size = 0
    for count, line in enumerate(lines):
        size += len(line) + 1
        if size > max_bytes and count:
            return lines[:count]
    return lines


def is_event_line(line: bytes, *, strict: bool) -> bool:
    """Whether a queue line can go into a batch: a JSON object with an event name in valid
    UTF-8. ``strict=False`` (lines this process wrote itself, from its own encoder moments ago)
    only checks the framing; other processes' files, which a crash or a tool may have damaged,
    are parsed."""
    if line[:1] != b"{" or line[-1:] != b"}":
        return False
    if not strict:
        return True
    try:
        event = json.loads(line.decode("utf-8"))
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        return False
    return isinstance(event, dict) and isinstance(event.get("event"), str)
