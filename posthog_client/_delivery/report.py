"""A project's delivery seen from outside the process that sends: how many events wait on disk
and the last failure, for ``posthog-client status``.

``ErrorRecorder`` wraps the backend of a persisted client and keeps its last failure in
``<project dir>/delivery_error.json`` (when, and the error, never the events); the first
success removes it. ``queued_events`` counts unsent events from the segment and progress files
(see ``segments``) without taking any lock or changing anything.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from .._exceptions import TransportError
from .segments import _count_lines, segment_path

if TYPE_CHECKING:
    from pathlib import Path

    from .backend import Backend

__all__ = ["ErrorRecorder", "last_error", "queued_events"]

ERROR_FILE: Final = "delivery_error.json"


class ErrorRecorder:
    """A backend that remembers, on disk, the last ``TransportError`` of the one it wraps."""

    def __init__(self, backend: Backend, directory: Path) -> None:
        self.backend = backend  # the one wrapped
        self._path = directory / ERROR_FILE
        self._maybe_recorded = True  # an earlier run may have left one

    def send(self, batch: Sequence[bytes]) -> None:
        try:
            self.backend.send(batch)
        except TransportError as exc:
            self._record(exc)
            raise
        if self._maybe_recorded:
            self._maybe_recorded = False
            try:
                os.unlink(self._path)
            except OSError:
                pass

    def close(self) -> None:
        self.backend.close()

    def _record(self, exc: TransportError) -> None:
        record = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "error": f"{type(exc).__name__}: {exc}"[:500],
        }
        try:  # not atomic: a torn record reads as none, and it is a report, not data
            self._path.write_text(json.dumps(record))
            self._maybe_recorded = True
        except OSError:
            pass


def last_error(directory: Path) -> tuple[str, str] | None:
    """(when, error) of the last delivery failure recorded in ``directory``, or None."""
    try:
        record = json.loads((directory / ERROR_FILE).read_bytes())
        return str(record["at"]), str(record["error"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def queued_events(queue_dir: Path) -> int:
    """Events in ``queue_dir`` not yet acknowledged, by every process, living or dead."""
    try:
        names = os.listdir(queue_dir)
    except OSError:
        return 0
    segments: dict[str, list[int]] = {}
    for name in names:
        owner, _, rest = name.partition(".")
        if rest.endswith(".seg") and rest[:-4].isdigit():
            segments.setdefault(owner, []).append(int(rest[:-4]))
    total = 0
    for owner, seqs in segments.items():
        first, offset = _progress(queue_dir / f"{owner}.pos")
        for seq in seqs:
            if seq >= first:
                try:
                    total += _count_lines(
                        segment_path(queue_dir, owner, seq), offset if seq == first else 0
                    )
                except OSError:
                    pass  # sent and deleted meanwhile
    return total


def _progress(path: Path) -> tuple[int, int]:
    try:
        seq, offset = path.read_bytes().split()
        return int(seq), int(offset)
    except (OSError, ValueError):
        return 0, 0
