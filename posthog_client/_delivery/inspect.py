"""A project's delivery seen from outside the process that sends: how many events wait on disk
and the last failure, for ``posthog-client status``.

``queued_events`` counts unsent events from the segment and progress files (see ``segments``)
without taking any lock or changing anything; ``last_error`` reads what ``report.Reporter``
keeps of the last failed request (when, and the error, never the events).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Final

from .segments import _count_lines, segment_path

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ERROR_FILE", "last_error", "queued_events"]

ERROR_FILE: Final = "delivery_error.json"


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
