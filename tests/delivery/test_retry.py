"""The retry policy: one attempt at a time, which failures are retryable, the wait before the
next attempt (backoff, jitter, Retry-After floor, caps), the 413 split."""

from __future__ import annotations

import pytest
from delivery_support import ScriptedBackend, event

from posthog_client._delivery.backend import EventResults
from posthog_client._delivery.retry import MAX_BACKOFF_S, MAX_PAUSE_S, RetryPolicy
from posthog_client._exceptions import PayloadTooLargeError, RejectedError, RetryableTransportError


def policy(max_retries: int = 3, backoff_s: float = 1.0) -> RetryPolicy:
    return RetryPolicy(max_retries, backoff_s=backoff_s)


def unavailable(retry_after_s: float | None = None) -> RetryableTransportError:
    return RetryableTransportError("HTTP 503", status_code=503, retry_after_s=retry_after_s)


def test_success_sends_once() -> None:
    backend = ScriptedBackend()
    outcome = policy().attempt(backend.send, [event(1), event(2)])
    assert (outcome.done, outcome.sent, outcome.failure) == (2, 2, None)
    assert len(backend.attempts) == 1


def test_a_retryable_failure_is_one_attempt_that_keeps_the_batch() -> None:
    backend = ScriptedBackend(unavailable(retry_after_s=7.0))
    outcome = policy().attempt(backend.send, [event(1), event(2)])
    assert (outcome.done, outcome.sent) == (0, 0)
    assert (outcome.failure, outcome.retry_after_s) == ("HTTP 503", 7.0)
    assert len(backend.attempts) == 1


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    retry_policy = policy(backoff_s=1.0)
    for failures in range(1, 12):
        ceiling = min(2 ** (failures - 1), MAX_BACKOFF_S)
        for _ in range(20):
            assert ceiling / 2 <= retry_policy.retry_delay(failures, None) <= ceiling
    assert retry_policy.retry_delay(10_000, None) <= MAX_BACKOFF_S  # no overflow either


def test_retry_after_is_a_floor_and_every_wait_is_capped() -> None:
    retry_policy = policy(backoff_s=0.001)
    assert retry_policy.retry_delay(1, 7.0) == 7.0
    assert retry_policy.retry_delay(1, 10.0**9) == MAX_PAUSE_S
    assert retry_policy.retry_delay(1, 0.0) <= 0.001


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_final_4xx_drops_the_batch_without_retry(status: int) -> None:
    backend = ScriptedBackend(RejectedError(f"HTTP {status}", status_code=status))
    outcome = policy().attempt(backend.send, [event(1), event(2)])
    assert outcome.dropped == {"rejected_4xx": 2}
    assert (outcome.done, outcome.sent, outcome.failure) == (2, 0, None)
    assert len(backend.attempts) == 1


def test_413_splits_in_halves_and_drops_only_the_event_that_is_still_too_large() -> None:
    huge = event(99, pad="x" * 5000)

    def send(batch: list[bytes]) -> None:
        attempts.append(len(batch))
        if len(batch) > 2 or huge in batch:
            raise PayloadTooLargeError("HTTP 413")
        delivered.extend(batch)

    attempts: list[int] = []
    delivered: list[bytes] = []
    batch = [event(i) for i in range(6)] + [huge, event(7)]
    outcome = policy().attempt(send, batch)  # type: ignore[arg-type]
    assert delivered == [e for e in batch if e is not huge]  # order kept
    assert outcome.dropped == {"too_large_413": 1}
    assert (outcome.done, outcome.sent) == (8, 7)
    assert attempts[0] == 8


def test_a_failed_half_stops_the_batch_with_the_first_half_done() -> None:
    backend = ScriptedBackend(PayloadTooLargeError("HTTP 413"), None)
    backend.fail_with = unavailable()
    outcome = policy(max_retries=0).attempt(backend.send, [event(i) for i in range(4)])
    assert (outcome.done, outcome.sent) == (2, 2)  # the second half stays queued
    assert outcome.failure == "HTTP 503"


def test_a_per_event_answer_finishes_events_anywhere_in_the_batch() -> None:
    answer = EventResults(
        dropped={4: "invalid_event"}, retry=frozenset({1, 3}), retry_after_s=2.0, detail="busy"
    )
    backend = ScriptedBackend(answer)
    outcome = policy().attempt(backend.send, [event(i) for i in range(6)])
    assert outcome.finished == [True, False, True, False, True, True]
    assert (outcome.sent, outcome.done, outcome.dropped) == (3, 4, {"rejected_event": 1})
    assert (outcome.failure, outcome.retry_after_s) == ("busy", 2.0)
    assert outcome.rejection is not None and "invalid_event" in outcome.rejection


def test_a_per_event_answer_naming_events_outside_the_batch_is_ignored_for_them() -> None:
    answer = EventResults(dropped={7: "x", -1: "y"}, retry=frozenset({9}))
    outcome = policy().attempt(ScriptedBackend(answer).send, [event(0), event(1)])
    assert outcome.finished == [True, True] and outcome.failure is None
    assert outcome.sent == 2 and not outcome.dropped


def test_an_empty_batch_is_not_sent() -> None:
    backend = ScriptedBackend()
    assert policy().attempt(backend.send, []).done == 0
    assert backend.attempts == []
