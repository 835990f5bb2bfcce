"""``debug=True`` and ``on_error``: is each request visible, is each problem reported, and does a
broken callback leave delivery alone?"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from delivery_support import ScriptedBackend
from loopback_sink import LoopbackSink

import posthog_client
from posthog_client import Client, DeliveryProblem
from posthog_client._exceptions import RejectedError, RetryableTransportError
from posthog_client.server import LocalServer


@pytest.fixture
def problems() -> list[DeliveryProblem]:
    return []


@pytest.fixture
def client_for(
    make_client: Callable[..., Client], problems: list[DeliveryProblem]
) -> Callable[..., Client]:
    def make(backend: Any, **options: Any) -> Client:
        options.setdefault("on_error", problems.append)
        options.setdefault("persist", False)
        return make_client(backend=backend, **options)

    return make


def test_debug_logs_each_request_with_count_bytes_status_and_latency_never_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with LocalServer("phc_app") as server:
        client = posthog_client.Client(
            "phc_app", host=server.url, storage_dir=tmp_path, debug=True, gzip=False
        )
        client.capture("secret_event", {"email": "someone@example.com"})
        client.capture("secret_event", {"email": "someone@example.com"})
        assert client.flush(5).sent == 2
        client.shutdown(0)
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    (request,) = [m for m in logged if m.startswith("sent ")]
    assert re.fullmatch(r"sent 2 events \(\d{3,} bytes\) in \d+ ms: HTTP 200", request), request
    assert not [m for m in logged if "secret_event" in m or "someone@" in m or "phc_app" in m]


def test_debug_logs_a_failed_request(
    client_for: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "posthog_client")
    backend = ScriptedBackend(RetryableTransportError("HTTP 503 from x", status_code=503))
    client = client_for(backend)
    client.capture("e")
    client.flush(5)
    failed = [r.getMessage() for r in caplog.records if "failed after" in r.getMessage()]
    assert re.fullmatch(r"sending 1 events \(\d+ bytes\) failed after \d+ ms: HTTP 503 from x",
                        failed[0])  # fmt: skip
    assert "delivered 1 events" in caplog.text  # the retry, to a backend without HTTP


def test_a_rejected_batch_is_reported_with_its_status_and_count(
    client_for: Callable[..., Client], problems: list[DeliveryProblem]
) -> None:
    backend = ScriptedBackend(RejectedError("HTTP 400 from x: bad request", status_code=400))
    client = client_for(backend)
    client.capture("e")
    client.capture("e")
    client.flush(5)
    assert problems == [
        DeliveryProblem("rejected_4xx", 400, 2, "2 events dropped: HTTP 400 from x: bad request")
    ]


def test_an_event_refused_in_a_per_event_answer_is_reported_with_that_answers_status(
    make_client: Callable[..., Client], problems: list[DeliveryProblem]
) -> None:
    with LoopbackSink() as sink:
        sink.respond(503)
        sink.respond(200, per_event=("ok", "drop"))
        client = make_client(
            backend=None, host=sink.url, capture_api="v1", persist=False, on_error=problems.append
        )
        client.capture("e", distinct_id="u")
        client.capture("e", distinct_id="u")
        assert client.flush(5).dropped == 1
    assert problems == [
        DeliveryProblem(
            "rejected_event", 200, 1, "1 events dropped: refused for good (invalid_event)"
        )
    ]


def test_a_pause_is_reported_with_the_events_that_wait(
    client_for: Callable[..., Client], problems: list[DeliveryProblem]
) -> None:
    backend = ScriptedBackend()
    backend.fail_with = RetryableTransportError("HTTP 503 from x", status_code=503)
    client = client_for(backend, max_retries=0)
    for _ in range(3):
        client.capture("e")
    client.flush(5)
    (problem,) = problems
    assert (problem.kind, problem.status, problem.events) == ("paused", 503, 3)
    assert problem.message == "HTTP 503 from x; sending paused, 3 events wait"


def test_queue_drops_are_reported_by_the_worker(
    client_for: Callable[..., Client], problems: list[DeliveryProblem]
) -> None:
    backend = ScriptedBackend()
    backend.gate = threading.Event()  # hold the first batch
    client = client_for(backend, max_queue_size=1, flush_at=1)
    for _ in range(3):
        client.capture("e")  # the first waits in the queue; the next two do not fit
    backend.gate.set()
    client.flush(5)
    assert problems == [
        DeliveryProblem("queue_full", None, 2, "2 events dropped: the memory queue was full"
                        " (max_queue_size)")
    ]  # fmt: skip
    assert client.stats()["dropped_queue_full"] == 2


def test_a_callback_that_raises_is_logged_once_and_delivery_goes_on(
    client_for: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(problem: DeliveryProblem) -> None:
        raise RuntimeError("monitoring is down")

    backend = ScriptedBackend(
        RejectedError("HTTP 400", status_code=400), RejectedError("HTTP 400", status_code=400)
    )
    client = client_for(backend, on_error=broken)
    for _ in range(2):
        client.capture("e")
        client.flush(5)
    client.capture("e")
    assert client.flush(5).sent == 1
    raised = [r for r in caplog.records if "on_error callback raised" in r.getMessage()]
    assert len(raised) == 1 and raised[0].exc_info is not None


def test_on_error_must_be_callable() -> None:
    with pytest.raises(posthog_client.ConfigurationError, match="on_error must be a function"):
        posthog_client.Client("phc_app", persist=False, on_error="log")  # type: ignore[arg-type]
