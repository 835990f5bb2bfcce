"""The one retry policy: what is retried, how long to wait before the next attempt, how 413
splits a batch.

Network errors, 408, 429, 5xx and redirects that cannot be followed (``RetryableTransportError``)
are retryable; final 4xx drop the batch; 413 splits it in halves down to single events; a
backend answering per event (``EventResults``) finishes some events and leaves the others for
the next attempt, wherever they are in the batch. The
policy makes **one** attempt at a time and says how long to wait before the next
(``retry_delay``): exponential backoff with jitter capped at 30 s, the server's ``Retry-After``
as a floor, every wait capped at ``MAX_PAUSE_S``. The waiting itself is the pipeline's gate, so
it holds whoever drives the send (worker, ``flush`` or ``sync_mode``). The events are the same
bytes on every attempt: their ``uuid`` and ``timestamp`` never change, only ``sent_at`` does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from .._exceptions import PayloadTooLargeError, RejectedError, RetryableTransportError
from .backend import EventResults

__all__ = ["MAX_BACKOFF_S", "MAX_PAUSE_S", "BatchOutcome", "RetryPolicy"]

MAX_BACKOFF_S: Final = 30.0
MAX_PAUSE_S: Final = 30 * 60.0  # no failure or server hint makes the SDK wait longer

Send = Callable[[Sequence[bytes]], EventResults | None]


class BatchOutcome:
    """What one attempt made of a batch: ``finished[i]`` tells whether event ``i`` is done
    (sent or dropped; ``done`` counts them); with ``failure`` set the others failed in a
    retryable way and stay queued."""

    def __init__(self, size: int) -> None:
        self.finished = [False] * size
        self.done = self.sent = 0
        self.dropped: dict[str, int] = {}
        self.failure: str | None = None
        self.retry_after_s: float | None = None  # the server's hint with the failure
        self.rejection: str | None = None  # why events were dropped

    def accept(self, indexes: Iterable[int]) -> None:
        for index in indexes:
            self.finished[index] = True
            self.sent += 1
            self.done += 1

    def drop(self, reason: str, indexes: Iterable[int], why: str) -> None:
        for index in indexes:
            self.finished[index] = True
            self.dropped[reason] = self.dropped.get(reason, 0) + 1
            self.done += 1
        self.rejection = why


class RetryPolicy:
    """One attempt at a batch through a backend's ``send``, and the wait before the next."""

    def __init__(self, max_retries: int, *, backoff_s: float = 1.0) -> None:
        self.max_retries = max_retries
        self._backoff_s = backoff_s

    def attempt(self, send: Send, events: Sequence[bytes]) -> BatchOutcome:
        outcome = BatchOutcome(len(events))
        if events:
            self._attempt(send, events, 0, len(events), outcome)
        return outcome

    def _attempt(
        self, send: Send, events: Sequence[bytes], start: int, end: int, outcome: BatchOutcome
    ) -> bool:
        """Send ``events[start:end]``; False when the rest must wait (a retryable failure)."""
        try:
            results = send(events[start:end])
        except PayloadTooLargeError as exc:
            if end - start > 1:
                middle = (start + end) // 2
                return self._attempt(send, events, start, middle, outcome) and self._attempt(
                    send, events, middle, end, outcome
                )
            outcome.drop("too_large_413", [start], str(exc))
        except RejectedError as exc:
            outcome.drop("rejected_4xx", range(start, end), str(exc))
        except RetryableTransportError as exc:
            outcome.failure = str(exc)
            outcome.retry_after_s = exc.retry_after_s
            return False
        else:
            if results is None:
                outcome.accept(range(start, end))
            else:
                return _apply_results(results, start, end, outcome)
        return True

    def retry_delay(self, failures: int, retry_after_s: float | None) -> float:
        """Seconds to wait after the ``failures``-th consecutive failed attempt."""
        ceiling = min(self._backoff_s * 2 ** min(failures - 1, 32), MAX_BACKOFF_S)
        wait = random.uniform(ceiling / 2, ceiling)  # jitter: clients that failed together spread
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return min(wait, MAX_PAUSE_S)


def _apply_results(results: EventResults, start: int, end: int, outcome: BatchOutcome) -> bool:
    """Finish the events a per-event answer accepted or dropped; the others wait."""
    size = end - start
    dropped = {i: reason for i, reason in results.dropped.items() if 0 <= i < size}
    retry = {i for i in results.retry if 0 <= i < size and i not in dropped}
    outcome.accept(start + i for i in range(size) if i not in dropped and i not in retry)
    for reason in sorted(set(dropped.values())):
        why = f"refused for good ({reason})"  # by the server, or by a backend before sending
        if results.detail:
            why = f"{why}: {results.detail}"
        outcome.drop("rejected_event", (start + i for i, r in dropped.items() if r == reason), why)
    if not retry:
        return True
    outcome.failure = results.detail or f"the server asked to send {len(retry)} events again"
    outcome.retry_after_s = results.retry_after_s
    return False
