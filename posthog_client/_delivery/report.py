"""Answers "are my events arriving?": each request logged at DEBUG, problems to ``on_error``.

Every attempt to send a batch is logged at DEBUG with its event count, request size, HTTP status
and latency (never an event or the project key). What keeps events from arriving (a batch
rejected, sending paused after failed retries, events dropped by a queue's bounds) is handed to
the app's ``on_error`` callback as a ``DeliveryProblem``, on the delivery thread; a callback that
raises is logged once and never stops delivery. A persisted client also keeps its last failed
request in the project folder (``inspect.ERROR_FILE``), for ``posthog-client status``; the next
success removes it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .._log import logger
from .inspect import ERROR_FILE
from .queue import Counters

if TYPE_CHECKING:
    from pathlib import Path

    from .backend import Backend, EventResults
    from .retry import BatchOutcome

__all__ = ["DeliveryProblem", "ErrorCallback", "Reporter"]


class DeliveryProblem(NamedTuple):
    """Why some events are not arriving, as ``Client(on_error=...)`` receives it.

    ``kind`` is ``"paused"`` (sending failed ``max_retries`` times and pauses; ``events`` events
    wait, nothing is lost) or the reason ``events`` events were dropped, as counted in
    ``client.stats()``: ``"rejected_4xx"`` (a final 400/401/403…), ``"too_large_413"``,
    ``"rejected_event"`` (refused by a server answering per event, e.g. capture v1's ``drop``),
    ``"queue_full"``, ``"disk_full"``, ``"oversize"``, ``"corrupt"`` or ``"shutdown"``.
    ``status`` is the HTTP status when there was one; ``message`` never contains event data.

    Example::

        def report(problem: posthog_client.DeliveryProblem) -> None:
            metrics.increment(f"analytics.{problem.kind}", problem.events)

        posthog_client.init("phc_...", on_error=report)
    """

    kind: str
    status: int | None
    events: int  # how many were dropped, or wait ("paused")
    message: str


ErrorCallback = Callable[[DeliveryProblem], Any]

# Drops counted by the queues rather than by a batch's outcome, and what they mean.
_QUEUE_DROPS: Final = {
    "queue_full": "the memory queue was full (max_queue_size)",
    "disk_full": "the disk queue was over max_disk_bytes or could not be written",
    "oversize": "an event was over the size PostHog accepts",
    "corrupt": "a crashed process left a torn event on disk",
    "shutdown": "events were captured after shutdown()",
}


class Reporter:
    """Observes one pipeline's requests and outcomes; see the module docstring."""

    def __init__(
        self, on_error: ErrorCallback | None, counters: Counters, error_dir: Path | None = None
    ) -> None:
        self._on_error = on_error
        self._counters = counters
        self._error_file = None if error_dir is None else error_dir / ERROR_FILE
        self._error_on_disk = error_dir is not None  # an earlier run may have left one
        self._seen = dict.fromkeys(_QUEUE_DROPS, 0)
        self._status: int | None = None  # of the last request (None: no HTTP status)
        self._callback_failed = False

    def observe(self, backend: Backend) -> Callable[[Sequence[bytes]], EventResults | None]:
        """``backend.send``, timed and logged at DEBUG."""

        def send(batch: Sequence[bytes]) -> EventResults | None:
            start = time.monotonic()
            try:
                results = backend.send(batch)
            except Exception as exc:
                self._status = getattr(exc, "status_code", None)
                logger.debug(
                    "sending %d events (%d bytes) failed after %.0f ms: %s",
                    len(batch),
                    _json_bytes(batch),
                    (time.monotonic() - start) * 1000,
                    exc,
                )
                self._keep_failure(exc)
                raise
            if self._error_on_disk:
                self._forget_failure()
            elapsed_ms = (time.monotonic() - start) * 1000
            exchange = getattr(backend, "last_exchange", None)  # (status, body bytes) over HTTP
            self._status = None if exchange is None else exchange[0]  # a per-event answer's
            if exchange is None:
                logger.debug(
                    "delivered %d events (%d bytes) to %s in %.0f ms",
                    len(batch),
                    _json_bytes(batch),
                    type(backend).__name__,
                    elapsed_ms,
                )
            else:
                logger.debug(
                    "sent %d events (%d bytes) in %.0f ms: HTTP %d",
                    len(batch),
                    exchange[1],
                    elapsed_ms,
                    exchange[0],
                )
            return results

        return send

    def recorded(
        self, outcome: BatchOutcome | None, pending: int, paused_s: float | None = None
    ) -> None:
        """After a batch's ``outcome`` (``paused_s``: sending now pauses that long) and after
        each worker cycle: report what went wrong."""
        if self._on_error is None:
            return
        problems: list[DeliveryProblem] = []
        if outcome is not None:
            for reason, count in outcome.dropped.items():
                status = 413 if reason == "too_large_413" else self._status
                message = f"{count} events dropped: {outcome.rejection}"
                problems.append(DeliveryProblem(reason, status, count, message))
            if paused_s is not None:
                message = f"{outcome.failure}; sending paused, {pending} events wait"
                problems.append(DeliveryProblem("paused", self._status, pending, message))
        counters = self._counters.snapshot()
        for reason, meaning in _QUEUE_DROPS.items():
            total = counters.get(f"dropped_{reason}", 0)
            if total > self._seen[reason]:
                count = total - self._seen[reason]
                problems.append(
                    DeliveryProblem(reason, None, count, f"{count} events dropped: {meaning}")
                )
            self._seen[reason] = total  # also when lower: counters restart in a forked child
        for problem in problems:
            self._call(problem)

    def _keep_failure(self, exc: Exception) -> None:
        if self._error_file is None:
            return
        record = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "error": f"{type(exc).__name__}: {exc}"[:500],
        }
        try:  # not atomic: a torn record reads as none, and it is a report, not data
            self._error_file.write_text(json.dumps(record))
            self._error_on_disk = True
        except OSError:
            pass

    def _forget_failure(self) -> None:
        assert self._error_file is not None
        self._error_on_disk = False
        try:
            os.unlink(self._error_file)
        except OSError:
            pass

    def _call(self, problem: DeliveryProblem) -> None:
        assert self._on_error is not None
        try:
            self._on_error(problem)
        except Exception:
            if not self._callback_failed:
                self._callback_failed = True
                logger.exception("the on_error callback raised (logged once; delivery goes on)")


def _json_bytes(batch: Sequence[bytes]) -> int:
    return sum(map(len, batch)) + max(len(batch) - 1, 0)
