"""The retry policy: which failures are retried, backoff and Retry-After, 413 split, deadlines."""

from __future__ import annotations

import threading
import time

import pytest
from delivery_support import ScriptedBackend, event

from posthog_client._delivery.retry import MAX_BACKOFF_S, RetryPolicy
from posthog_client._exceptions import PayloadTooLargeError, RejectedError, RetryableTransportError


def policy(
    max_retries: int = 3, deadline: float | None = None, backoff_s: float = 0.001
) -> RetryPolicy:
    return RetryPolicy(max_retries, lambda: deadline, backoff_s=backoff_s)


def record_sleeps(retry_policy: RetryPolicy, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    sleeps: list[float] = []
    monkeypatch.setattr(retry_policy, "_sleep", sleeps.append)
    return sleeps


def unavailable(retry_after_s: float | None = None) -> RetryableTransportError:
    return RetryableTransportError("HTTP 503", status_code=503, retry_after_s=retry_after_s)


def test_success_sends_once() -> None:
    backend = ScriptedBackend()
    outcome = policy().deliver(backend.send, [event(1), event(2)])
    assert (outcome.done, outcome.sent, outcome.retries, outcome.pause_s) == (2, 2, 0, None)
    assert len(backend.attempts) == 1


def test_retryable_failures_are_retried_then_succeed_with_the_same_bytes() -> None:
    backend = ScriptedBackend(unavailable(), RetryableTransportError("reset"), None)
    batch = [event(1), event(2)]
    outcome = policy().deliver(backend.send, batch)
    assert (outcome.sent, outcome.retries) == (2, 2)
    assert backend.attempts == [batch, batch, batch]  # uuid and timestamp never change


def test_after_max_retries_the_batch_stays_queued_and_sending_pauses() -> None:
    backend = ScriptedBackend()
    backend.fail_with = unavailable()
    outcome = policy(max_retries=3).deliver(backend.send, [event(1)])
    assert len(backend.attempts) == 4  # the first attempt and three retries
    assert (outcome.done, outcome.sent, outcome.retries) == (0, 0, 3)
    assert outcome.pause_s is not None
    assert outcome.failure == "HTTP 503"


def test_backoff_grows_with_jitter_and_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    retry_policy = policy(max_retries=8, backoff_s=1.0)
    sleeps = record_sleeps(retry_policy, monkeypatch)
    backend = ScriptedBackend()
    backend.fail_with = unavailable()
    retry_policy.deliver(backend.send, [event()])
    for attempt, sleep in enumerate(sleeps, start=1):
        ceiling = min(2 ** (attempt - 1), MAX_BACKOFF_S)
        assert ceiling / 2 <= sleep <= ceiling
    assert max(sleeps) <= MAX_BACKOFF_S


def test_retry_after_is_a_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    retry_policy = policy(backoff_s=0.001)
    sleeps = record_sleeps(retry_policy, monkeypatch)
    backend = ScriptedBackend(unavailable(retry_after_s=7.0), None)
    assert retry_policy.deliver(backend.send, [event()]).sent == 1
    assert sleeps == [7.0]


def test_a_retry_after_beyond_the_cap_pauses_sending_for_that_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    retry_policy = policy()
    sleeps = record_sleeps(retry_policy, monkeypatch)
    backend = ScriptedBackend(unavailable(retry_after_s=600.0))
    outcome = retry_policy.deliver(backend.send, [event()])
    assert sleeps == [] and len(backend.attempts) == 1
    assert outcome.pause_s == 600.0


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_final_4xx_drops_the_batch_without_retry(status: int) -> None:
    backend = ScriptedBackend(RejectedError(f"HTTP {status}", status_code=status))
    outcome = policy().deliver(backend.send, [event(1), event(2)])
    assert outcome.dropped == {"rejected_4xx": 2}
    assert (outcome.done, outcome.sent, outcome.pause_s) == (2, 0, None)
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
    outcome = policy().deliver(send, batch)  # type: ignore[arg-type]
    assert delivered == [e for e in batch if e is not huge]  # order kept
    assert outcome.dropped == {"too_large_413": 1}
    assert (outcome.done, outcome.sent) == (8, 7)
    assert attempts[0] == 8


def test_a_failed_half_stops_the_batch_with_the_first_half_done() -> None:
    backend = ScriptedBackend(PayloadTooLargeError("HTTP 413"), None)
    backend.fail_with = unavailable()
    outcome = policy(max_retries=0).deliver(backend.send, [event(i) for i in range(4)])
    assert (outcome.done, outcome.sent) == (2, 2)  # the second half stays queued
    assert outcome.pause_s is not None


def test_a_deadline_stops_retrying_without_pausing() -> None:
    backend = ScriptedBackend()
    backend.fail_with = unavailable()
    outcome = policy(max_retries=10, deadline=time.monotonic(), backoff_s=1.0).deliver(
        backend.send, [event()]
    )
    assert len(backend.attempts) == 1
    assert (outcome.done, outcome.pause_s) == (0, None)


def test_interrupt_cuts_a_backoff_wait_short() -> None:
    retry_policy = policy(max_retries=1, backoff_s=20.0)
    backend = ScriptedBackend(unavailable(), None)
    started = time.monotonic()
    thread = threading.Thread(target=retry_policy.deliver, args=(backend.send, [event()]))
    thread.start()
    assert backend.attempted.wait(5)
    retry_policy.interrupt()  # lands in (or just before) the 10-20 s backoff wait
    thread.join(5)
    assert not thread.is_alive()
    assert len(backend.delivered) == 1
    assert time.monotonic() - started < 5
