"""The pipeline: lazy worker, batch triggers, bounded flush/shutdown, pausing, purge, sync mode."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from delivery_support import ScriptedBackend, event, make_pipeline

from posthog_client._delivery.backend import EventResults
from posthog_client._delivery.queue import MAX_EVENT_BYTES
from posthog_client._delivery.worker import THREAD_NAME, Pipeline
from posthog_client._events.encoding import SharedProperties, encode_event
from posthog_client._exceptions import RejectedError, RetryableTransportError

MakePipeline = Callable[..., Pipeline]


@pytest.fixture
def pipelines(tmp_path: Path) -> Iterator[MakePipeline]:
    made: list[Pipeline] = []

    def make(backend: Any, **overrides: Any) -> Pipeline:
        pipeline = make_pipeline(tmp_path, backend, **overrides)
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        pipeline.shutdown(0)
        if pipeline._thread is not None:
            pipeline._thread.join(5)


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def unavailable() -> RetryableTransportError:
    return RetryableTransportError("HTTP 503", status_code=503)


def test_flush_with_nothing_to_do_returns_at_once_and_starts_nothing(
    pipelines: MakePipeline,
) -> None:
    before = len(workers())
    pipeline = pipelines(ScriptedBackend())
    started = time.monotonic()
    assert pipeline.flush(10).pending == 0
    assert time.monotonic() - started < 0.05
    assert len(workers()) == before


def test_the_worker_starts_on_the_first_submit_as_a_daemon(pipelines: MakePipeline) -> None:
    pipeline = pipelines(ScriptedBackend())
    assert pipeline._thread is None
    pipeline.submit(event())
    assert pipeline._thread is not None
    assert pipeline._thread.daemon and pipeline._thread.name == THREAD_NAME


def test_flush_at_events_are_sent_without_a_flush(pipelines: MakePipeline) -> None:
    backend = ScriptedBackend()
    pipeline = pipelines(backend, flush_at=5, flush_interval_s=60)
    for i in range(5):
        pipeline.submit(event(i))
    assert backend.received.wait(5)


def test_the_interval_sends_what_waits(pipelines: MakePipeline) -> None:
    backend = ScriptedBackend()
    pipeline = pipelines(backend, flush_at=1000, flush_interval_s=0.05)
    pipeline.submit(event(1))
    assert backend.received.wait(5)
    assert [e["properties"]["i"] for e in backend.events] == [1]


@pytest.mark.parametrize("persist", [True, False])
def test_flush_delivers_everything_in_order_in_bounded_batches(
    pipelines: MakePipeline, persist: bool
) -> None:
    backend = ScriptedBackend()
    pipeline = pipelines(backend, persist=persist, flush_at=1000, max_batch_size=40)
    for i in range(300):
        assert pipeline.submit(event(i))
    result = pipeline.flush(10)
    assert (result.sent, result.pending, result.dropped) == (300, 0, 0)
    assert [e["properties"]["i"] for e in backend.events] == list(range(300))
    assert max(len(batch) for batch in backend.delivered) <= 40
    assert pipeline.stats()["sent"] == 300


@pytest.mark.parametrize("persist", [True, False])
def test_events_a_per_event_answer_finished_are_never_sent_again(
    pipelines: MakePipeline, persist: bool
) -> None:
    answer = EventResults(dropped={4: "invalid_event"}, retry=frozenset({1, 3}))
    backend = ScriptedBackend(answer)
    pipeline = pipelines(backend, persist=persist, flush_at=1000, max_batch_size=10)
    for i in range(6):
        assert pipeline.submit(event(i))
    pipeline.flush(5)  # the first answer sets a short backoff (the gate)
    result = pipeline.flush(5)
    assert result.pending == 0
    ids = [[json.loads(e)["properties"]["i"] for e in batch] for batch in backend.attempts]
    assert ids == [[0, 1, 2, 3, 4, 5], [1, 3]]  # only the events the server asked for
    assert sorted(e["properties"]["i"] for e in backend.events) == [0, 1, 2, 3, 5]
    stats = pipeline.stats()
    assert (stats["sent"], stats["dropped_rejected_event"]) == (5, 1)


def test_an_oversized_event_is_refused_and_flush_does_not_hang(
    pipelines: MakePipeline, caplog: pytest.LogCaptureFixture
) -> None:
    backend = ScriptedBackend()
    pipeline = pipelines(backend)
    with caplog.at_level(logging.WARNING, "posthog_client"):
        assert not pipeline.submit(event(1, pad="x" * MAX_EVENT_BYTES))
    assert pipeline.submit(event(2))
    started = time.monotonic()
    assert pipeline.flush(5).pending == 0
    assert time.monotonic() - started < 2
    assert pipeline.stats()["dropped_oversize"] == 1
    assert [e["properties"]["i"] for e in backend.events] == [2]
    assert "over" in caplog.text and "xxx" not in caplog.text  # never the payload


def test_a_newline_in_an_event_cannot_break_the_queue(pipelines: MakePipeline) -> None:
    backend = ScriptedBackend()
    pipeline = pipelines(backend)
    message = json.loads(event(1, "line\nbreak", **{"new\nline": "a\r\nb"}))
    shared = SharedProperties({"$lib": "x\ny"})
    line = encode_event(message)
    assert b"\n" not in line and b"\n" not in shared.members  # escaped: framing is safe
    pipeline.submit(line, shared)
    pipeline.submit(event(2))
    pipeline.flush(5)
    assert [e["properties"]["i"] for e in backend.events] == [1, 2]
    assert backend.events[0]["event"] == "line\nbreak"
    assert backend.events[0]["properties"] == {"$lib": "x\ny", "i": 1, "new\nline": "a\r\nb"}


def test_rejected_batches_are_dropped_counted_and_logged_once(
    pipelines: MakePipeline, caplog: pytest.LogCaptureFixture
) -> None:
    backend = ScriptedBackend()
    backend.fail_with = RejectedError("HTTP 401 from host", status_code=401)
    pipeline = pipelines(backend, max_batch_size=2, flush_at=1000)
    with caplog.at_level(logging.WARNING, "posthog_client"):
        for i in range(6):
            pipeline.submit(event(i))
        result = pipeline.flush(5)
    assert (result.sent, result.dropped, result.pending) == (0, 6, 0)
    assert pipeline.stats()["dropped_rejected_4xx"] == 6
    assert len(backend.attempts) == 3
    assert caplog.text.count("HTTP 401") == 1


def test_exhausted_retries_pause_sending_and_keep_the_events(
    pipelines: MakePipeline, caplog: pytest.LogCaptureFixture
) -> None:
    backend = ScriptedBackend()
    backend.fail_with = unavailable()
    pipeline = pipelines(backend, max_retries=2, flush_at=1000)
    with caplog.at_level(logging.WARNING, "posthog_client"):
        for i in range(3):
            pipeline.submit(event(i))
        result = pipeline.flush(5)
    assert (result.sent, result.pending) == (0, 3)
    assert len(backend.attempts) == 3
    stats = pipeline.stats()
    assert stats["retried"] == 2 and stats["pending"] == 3
    assert pipeline._not_before > time.monotonic() + 50  # cool-down of at least 60 s
    assert len([r for r in caplog.records if "paused" in r.getMessage()]) == 1
    backend.fail_with = None  # the server is back, but a flush does not cut the pause short
    started = time.monotonic()
    assert pipeline.flush(5).pending == 3
    assert time.monotonic() - started < 1 and len(backend.attempts) == 3
    pipeline._not_before = time.monotonic()  # the cool-down is over
    result = pipeline.flush(5)
    assert (result.sent, result.pending) == (3, 0)
    assert [e["properties"]["i"] for e in backend.events] == [0, 1, 2]


def test_shutdown_is_bounded_while_the_server_hangs_and_is_idempotent(
    pipelines: MakePipeline,
) -> None:
    backend = ScriptedBackend()
    backend.gate = threading.Event()  # every send blocks until released
    pipeline = pipelines(backend, flush_at=1)
    pipeline.submit(event(1))
    assert backend.attempted.wait(5)
    started = time.monotonic()
    result = pipeline.shutdown(0.3)
    assert 0.25 <= time.monotonic() - started < 1.0
    assert result.pending == 1
    assert pipeline.shutdown(5) == result.__class__(pending=1)  # at once, same answer
    assert not pipeline.submit(event(2))
    assert pipeline.stats()["dropped_shutdown"] == 1
    backend.gate.set()  # let the worker finish and close up before the test ends


def test_shutdown_interrupts_a_backoff_wait(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.fail_with = unavailable()
    pipeline = make_pipeline(tmp_path, backend, flush_at=1)
    pipeline._policy._backoff_s = 20.0  # the first retry would wait 10-20 s
    pipeline.submit(event(1))
    assert backend.attempted.wait(5)
    started = time.monotonic()
    result = pipeline.shutdown(1.0)
    assert time.monotonic() - started < 1.5
    assert result.pending == 1
    assert pipeline._thread is not None
    pipeline._thread.join(5)
    assert not pipeline._thread.is_alive()
    assert backend.closed


def test_purge_deletes_the_queue_and_nothing_more_is_sent(pipelines: MakePipeline) -> None:
    backend = ScriptedBackend()
    backend.fail_with = unavailable()
    pipeline = pipelines(backend, max_retries=0, flush_at=1000)
    for i in range(4):
        pipeline.submit(event(i))
    pipeline.flush(5)
    assert pipeline.purge() == 4
    backend.fail_with = None
    assert pipeline.flush(5).pending == 0
    assert backend.delivered == []
    assert pipeline.stats()["purged"] == 4


def test_memory_mode_counts_overflow(pipelines: MakePipeline) -> None:
    backend = ScriptedBackend()
    backend.gate = threading.Event()
    pipeline = pipelines(backend, persist=False, max_queue_size=3, flush_at=3)
    accepted = [pipeline.submit(event(i)) for i in range(5)]
    assert accepted == [True, True, True, False, False]
    assert pipeline.stats()["dropped_queue_full"] == 2
    backend.gate.set()


def test_sync_mode_sends_before_submit_returns(pipelines: MakePipeline) -> None:
    backend = ScriptedBackend(unavailable(), None)
    pipeline = pipelines(backend, threaded=False)
    assert pipeline.submit(event(1))
    assert [e["properties"]["i"] for e in backend.events] == [1]
    assert pipeline.stats()["retried"] == 1
    assert pipeline._thread is None


def test_sync_mode_keeps_what_it_cannot_send(pipelines: MakePipeline) -> None:
    backend = ScriptedBackend()
    backend.fail_with = unavailable()
    pipeline = pipelines(backend, threaded=False, max_retries=1)
    assert pipeline.submit(event(1))
    assert pipeline.stats()["pending"] == 1
    assert len(backend.attempts) == 2  # the first attempt and one retry, then a pause
    backend.fail_with = None
    assert pipeline.flush(5).pending == 1  # the pause holds for sync callers too
    pipeline._not_before = time.monotonic()
    assert pipeline.flush(5).sent == 1


def test_stats_name_every_counter(pipelines: MakePipeline) -> None:
    stats = pipelines(ScriptedBackend()).stats()
    for name in ("sent", "retried", "pending", "purged", "dropped_queue_full", "dropped_oversize"):
        assert stats[name] == 0
    assert {"dropped_rejected_4xx", "dropped_too_large_413", "dropped_disk_full"} <= set(stats)


def test_a_fork_without_hooks_is_caught_on_submit(pipelines: MakePipeline) -> None:
    backend = ScriptedBackend()
    pipeline = pipelines(backend, persist=False, flush_at=1000, flush_interval_s=0.05)
    pipeline.submit(event(1))
    parents_worker = pipeline._thread
    pipeline._same_process[0] = 0  # as a child forked from C (uwsgi) would see it
    pipeline.submit(event(2))
    assert pipeline._thread is not parents_worker
    assert pipeline.stats()["pending"] == 1  # the parent's event is not the child's to send
    pipeline.flush(5)
    assert [e["properties"]["i"] for e in backend.events] == [2]
    pipeline.shutdown(1)
    assert parents_worker is not None
    parents_worker.join(5)  # (in a real child that thread does not exist)
    assert not parents_worker.is_alive()
