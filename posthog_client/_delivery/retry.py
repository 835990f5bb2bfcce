"""The one retry policy: what is retried, how long to wait before the next attempt, how 413
splits a batch.

Network errors, 408, 429, 5xx and redirects that cannot be followed (``RetryableTransportError``)
are retryable; final 4xx drop the batch; 413 splits it in halves down to single events. The
policy makes **one** attempt at a time and says how long to wait before the next
(``retry_delay``): exponential backoff with jitter capped at 30 s, the server's ``Retry-After``
as a floor, every wait capped at ``MAX_PAUSE_S``. The waiting itself is the pipeline's gate, so
it holds whoever drives the send (worker, ``flush`` or ``sync_mode``). The events are the same
bytes on every attempt: their ``uuid`` and ``timestamp`` never change, only ``sent_at`` does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Final

from .._exceptions import PayloadTooLargeError, RejectedError, RetryableTransportError

__all__ = ["MAX_BACKOFF_S", "MAX_PAUSE_S", "BatchOutcome", "RetryPolicy"]

MAX_BACKOFF_S: Final = 30.0
MAX_PAUSE_S: Final = 30 * 60.0  # no failure or server hint makes the SDK wait longer

Send = Callable[[Sequence[bytes]], None]


class BatchOutcome:
    """What one attempt made of a batch: its first ``done`` events are finished (sent or
    dropped); with ``failure`` set the rest failed in a retryable way and stays queued."""

    def __init__(self) -> None:
        self.done = self.sent = 0
        self.dropped: dict[str, int] = {}
        self.failure: str | None = None
        self.retry_after_s: float | None = None  # the server's hint with the failure
        self.rejection: str | None = None  # why events were dropped

    def drop(self, reason: str, count: int, why: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + count
        self.done += count
        self.rejection = why


class RetryPolicy:
    """One attempt at a batch through a backend's ``send``, and the wait before the next."""

    def __init__(self, max_retries: int, *, backoff_s: float = 1.0) -> None:
        self.max_retries = max_retries
        self._backoff_s = backoff_s

    def attempt(self, send: Send, events: Sequence[bytes]) -> BatchOutcome:
        outcome = BatchOutcome()
        self._attempt(send, events, outcome)
        return outcome

    def _attempt(self, send: Send, events: Sequence[bytes], outcome: BatchOutcome) -> bool:
        try:
            send(events)
        except PayloadTooLargeError as exc:
            if len(events) > 1:
                half = len(events) // 2
                return self._attempt(send, events[:half], outcome) and self._attempt(
                    send, events[half:], outcome
                )
            outcome.drop("too_large_413", 1, str(exc))
        except RejectedError as exc:
            outcome.drop("rejected_4xx", len(events), str(exc))
        except RetryableTransportError as exc:
            outcome.failure = str(exc)
            outcome.retry_after_s = exc.retry_after_s
            return False
        else:
            outcome.sent += len(events)
            outcome.done += len(events)
        return True

    def retry_delay(self, failures: int, retry_after_s: float | None) -> float:
        """Seconds to wait after the ``failures``-th consecutive failed attempt."""
        ceiling = min(self._backoff_s * 2 ** min(failures - 1, 32), MAX_BACKOFF_S)
        wait = random.uniform(ceiling / 2, ceiling)  # jitter: clients that failed together spread
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return min(wait, MAX_PAUSE_S)
