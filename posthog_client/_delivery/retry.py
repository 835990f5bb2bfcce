"""The one retry policy: what is retried, how long to wait, when to give up, how 413 splits.

Network errors, 408, 429 and 5xx (``RetryableTransportError``) are retried ``max_retries`` times
after the first attempt with exponential backoff and jitter capped at 30 s, ``Retry-After`` as a
floor. Waits are ``Event`` waits, so ``flush``/``shutdown`` can cut them short, and a retry that
would end after the caller's deadline is not started. Final 4xx drop the batch; 413 splits it in
halves down to single events. The events are the same bytes on every attempt: their ``uuid`` and
``timestamp`` never change, only the envelope's ``sent_at`` does.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from .._exceptions import PayloadTooLargeError, RejectedError, RetryableTransportError

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["BatchOutcome", "RetryPolicy"]

MAX_BACKOFF_S: Final = 30.0

Send = Callable[[Sequence[bytes]], None]


class BatchOutcome:
    """What became of a batch: its first ``done`` events are finished (sent or dropped)."""

    def __init__(self) -> None:
        self.done = self.sent = self.retries = 0
        self.dropped: dict[str, int] = {}
        self.failure: str | None = None  # why the rest is still queued
        self.pause_s: float | None = None  # set when sending should pause (retries exhausted)
        self.rejection: str | None = None  # why events were dropped

    def drop(self, reason: str, count: int, why: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + count
        self.done += count
        self.rejection = why


class RetryPolicy:
    """Delivers batches through a backend's ``send`` with retries; see the module docstring.

    ``deadline`` returns the ``time.monotonic()`` by which the current delivery must end (set by
    ``flush``/``shutdown``), or None for no deadline.
    """

    def __init__(
        self,
        max_retries: int,
        deadline: Callable[[], float | None],
        *,
        backoff_s: float = 1.0,
    ) -> None:
        self._max_retries = max_retries
        self._deadline = deadline
        self._backoff_s = backoff_s
        self._interrupt = threading.Event()

    def interrupt(self) -> None:
        """Cut the current backoff wait short (a new deadline or a flush arrived)."""
        self._interrupt.set()

    def reset_after_fork(self) -> None:
        self._interrupt = threading.Event()

    def deliver(self, send: Send, events: Sequence[bytes]) -> BatchOutcome:
        outcome = BatchOutcome()
        self._deliver(send, events, outcome)
        return outcome

    def _deliver(self, send: Send, events: Sequence[bytes], outcome: BatchOutcome) -> bool:
        try:
            self._send_with_retries(send, events, outcome)
        except PayloadTooLargeError as exc:
            if len(events) > 1:
                half = len(events) // 2
                return self._deliver(send, events[:half], outcome) and self._deliver(
                    send, events[half:], outcome
                )
            outcome.drop("too_large_413", 1, str(exc))
        except RejectedError as exc:
            outcome.drop("rejected_4xx", len(events), str(exc))
        except RetryableTransportError as exc:
            outcome.failure = str(exc)
            return False
        else:
            outcome.sent += len(events)
            outcome.done += len(events)
        return True

    def _send_with_retries(
        self, send: Send, events: Sequence[bytes], outcome: BatchOutcome
    ) -> None:
        try:
            send(events)  # most batches go through at once: no retry machinery to set up
            return
        except RetryableTransportError as error:
            deadline = self._deadline()
            if deadline is not None and time.monotonic() >= deadline:
                raise  # no time left to retry (shutting down): the batch stays queued
            failed: list[Exception] = [error]

        def attempt(batch: Sequence[bytes]) -> None:
            if failed:  # tenacity's attempt 1 is the one that just failed
                raise failed.pop()
            send(batch)

        from tenacity import Retrying, retry_if_exception_type  # deferred: ~30 ms of imports

        def stop(state: RetryCallState) -> bool:
            deadline = self._deadline()
            if deadline is not None and time.monotonic() + state.upcoming_sleep > deadline:
                return True  # the caller's budget ends first: stays queued, no pause
            if state.attempt_number > self._max_retries or state.upcoming_sleep > MAX_BACKOFF_S:
                outcome.pause_s = state.upcoming_sleep  # a long Retry-After pauses sending too
                return True
            return False

        def before_sleep(state: RetryCallState) -> None:
            outcome.retries += 1

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableTransportError),
            stop=stop,
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        retrying(attempt, events)

    def _wait(self, state: RetryCallState) -> float:
        ceiling = min(self._backoff_s * 2 ** (state.attempt_number - 1), MAX_BACKOFF_S)
        wait = random.uniform(ceiling / 2, ceiling)  # jitter: clients that failed together spread
        error = state.outcome.exception() if state.outcome is not None else None
        retry_after = getattr(error, "retry_after_s", None)
        return max(wait, retry_after) if retry_after is not None else wait

    def _sleep(self, seconds: float) -> None:
        if self._interrupt.wait(seconds):
            self._interrupt.clear()
