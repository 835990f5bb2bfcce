"""The capture v1 backend: headers, body, compression, statuses, per-event answers, the request
id across retries, events refused before sending, and the pipeline sending only what the server
asked to retry."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import re
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from delivery_support import API_KEY, event, make_pipeline
from loopback_sink import LoopbackSink

from posthog_client._delivery.backend import EventResults
from posthog_client._delivery.capture_v1 import V1_PATH, CaptureV1Backend
from posthog_client._exceptions import (
    PayloadTooLargeError,
    RejectedError,
    RetryableTransportError,
)

HOST = "https://ingest.example"
URL = HOST + V1_PATH
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)")


@pytest.fixture
def backend() -> Iterator[CaptureV1Backend]:
    http = CaptureV1Backend(API_KEY, HOST + "/", encoding=None, timeout_s=2)
    yield http
    http.close()


def uuid_of(line: bytes) -> str:
    return str(json.loads(line)["uuid"])


def answer(*results: tuple[bytes, dict[str, Any]], headers: dict[str, str] | None = None) -> None:
    """Script the next response: a 200 with these per-event ``results``."""
    body = {"results": {uuid_of(line): result for line, result in results}}
    responses.post(URL, json=body, headers=headers or {})


def sent(index: int = -1) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers and JSON body of a request the backend made."""
    request = responses.calls[index].request
    body = request.body
    assert isinstance(body, bytes)
    return dict(request.headers), json.loads(body)


@responses.activate
def test_a_request_is_bearer_authenticated_and_says_who_when_and_which(
    backend: CaptureV1Backend,
) -> None:
    responses.post(URL, json={"results": {}})
    batch = [event(1), event(2)]
    assert backend.send(batch) is None
    headers, body = sent()
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert re.fullmatch(r"posthog-client-python/.+", headers["PostHog-Sdk-Info"])
    assert headers["PostHog-Attempt"] == "1"
    assert uuid.UUID(headers["PostHog-Request-Id"])
    assert RFC3339_UTC.fullmatch(headers["PostHog-Request-Timestamp"])
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("posthog-client-python/")
    assert "Content-Encoding" not in headers
    assert set(body) == {"created_at", "batch"}  # no api_key, no sent_at, no backfill flag
    created = dt.datetime.fromisoformat(body["created_at"])
    assert abs((dt.datetime.now(dt.timezone.utc) - created).total_seconds()) < 5
    assert [e["uuid"] for e in body["batch"]] == [uuid_of(e) for e in batch]
    assert body["batch"][0]["properties"] == {"i": 1}
    assert API_KEY not in json.dumps(body)


@responses.activate
def test_historical_migration_marks_the_body() -> None:
    responses.post(URL, json={"results": {}})
    CaptureV1Backend(API_KEY, HOST, encoding=None, historical_migration=True).send([event()])
    assert sent()[1]["historical_migration"] is True


@responses.activate
@pytest.mark.parametrize(
    ("encoding", "decompress"), [("gzip", gzip.decompress), ("deflate", zlib.decompress)]
)
def test_bodies_are_compressed_in_the_encoding_chosen(encoding: str, decompress: Any) -> None:
    responses.post(URL, json={"results": {}})
    CaptureV1Backend(API_KEY, HOST, encoding=encoding).send([event(i) for i in range(20)])
    request = responses.calls[0].request
    assert request.headers["Content-Encoding"] == encoding
    assert isinstance(request.body, bytes)
    assert len(json.loads(decompress(request.body))["batch"]) == 20


@responses.activate
def test_each_event_is_answered_by_its_result(backend: CaptureV1Backend) -> None:
    events = [event(i) for i in range(7)]
    answer(
        (events[0], {"result": "ok"}),
        (events[1], {"result": "warning", "details": "person_processing_disabled"}),
        (events[2], {"result": "drop", "details": "event_name_too_long"}),
        (events[3], {"result": "retry", "details": "not_persisted"}),
        (events[4], {"result": "limited"}),  # unknown to this SDK: accepted, not retried
        (events[5], {"result": "drop"}),
        # events[6] left out of the answer: accepted
        headers={"Retry-After": "3"},
    )
    results = backend.send(events)
    assert results == EventResults(
        dropped={2: "event_name_too_long", 5: "drop"}, retry=frozenset({3}), retry_after_s=3.0
    )


@responses.activate
@pytest.mark.parametrize(
    "body", [b'{"status":1}', b"", b"not json", b'{"results":[]}', b'{"results":{"x":1}}']
)
def test_a_2xx_without_per_event_results_accepts_every_event(
    backend: CaptureV1Backend, body: bytes
) -> None:
    responses.post(URL, body=body)
    assert backend.send([event()]) is None


@responses.activate
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_408_429_and_5xx_are_retried_with_retry_after(
    backend: CaptureV1Backend, status: int
) -> None:
    responses.post(URL, status=status, headers={"Retry-After": "2"})
    with pytest.raises(RetryableTransportError) as caught:
        backend.send([event()])
    assert (caught.value.status_code, caught.value.retry_after_s) == (status, 2.0)


@responses.activate
@pytest.mark.parametrize("status", [400, 401, 402, 403, 415])
def test_other_4xx_are_final(backend: CaptureV1Backend, status: int) -> None:
    error = {"error": "x", "error_description": "no", "error_uri": "https://posthog.com/docs/api"}
    responses.post(URL, status=status, json=error)
    with pytest.raises(RejectedError) as caught:
        backend.send([event()])
    assert caught.value.status_code == status
    assert not isinstance(caught.value, PayloadTooLargeError)


@responses.activate
@pytest.mark.parametrize("status", [404, 405])
def test_a_host_without_capture_v1_keeps_the_events_and_says_so_once(
    backend: CaptureV1Backend, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    responses.post(URL, status=status)
    for _ in range(2):
        with pytest.raises(RetryableTransportError) as caught:
            backend.send([event()])
        assert caught.value.status_code == status
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and 'capture_api="v0"' in errors[0]


@responses.activate
def test_413_asks_for_a_split(backend: CaptureV1Backend) -> None:
    responses.post(URL, status=413)
    with pytest.raises(PayloadTooLargeError):
        backend.send([event(), event()])


@responses.activate
def test_a_retried_request_keeps_its_id_and_created_at_and_counts_its_attempts(
    backend: CaptureV1Backend,
) -> None:
    batch = [event(i) for i in range(3)]
    responses.post(URL, status=503)
    responses.post(URL, status=503)
    answer((batch[1], {"result": "retry"}))  # the third attempt: one event to retry
    answer()  # the fourth: accepted
    for _ in range(2):
        with pytest.raises(RetryableTransportError):
            backend.send(batch)
    assert backend.send(batch) == EventResults(retry=frozenset({1}))
    assert backend.send([batch[1]]) is None  # what the pipeline sends next: only the retry
    requests = [sent(i) for i in range(4)]
    assert len({h["PostHog-Request-Id"] for h, _ in requests}) == 1
    assert [h["PostHog-Attempt"] for h, _ in requests] == ["1", "2", "3", "4"]
    assert len({b["created_at"] for _, b in requests}) == 1
    stamps = [h["PostHog-Request-Timestamp"] for h, _ in requests]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4  # each attempt says when it was
    assert [len(b["batch"]) for _, b in requests] == [3, 3, 3, 1]


@responses.activate
@pytest.mark.parametrize(
    "first", [{"status": 200}, {"status": 413}, {"status": 400}], ids=["ok", "413", "400"]
)
def test_a_request_after_one_that_ended_is_a_new_request(
    backend: CaptureV1Backend, first: dict[str, int]
) -> None:
    batch = [event(1), event(2)]
    responses.post(URL, json={"results": {}}, **first)  # type: ignore[arg-type]
    responses.post(URL, json={"results": {}})
    try:
        backend.send(batch)
    except (RejectedError, PayloadTooLargeError):
        pass
    backend.send(batch[:1])  # the same events, but their request ended: not a retry
    (one, _), (two, _) = sent(0), sent(1)
    assert one["PostHog-Request-Id"] != two["PostHog-Request-Id"]
    assert two["PostHog-Attempt"] == "1"


@responses.activate
def test_a_retry_that_also_carries_new_events_is_a_new_request(
    backend: CaptureV1Backend,
) -> None:
    responses.post(URL, status=503)
    responses.post(URL, json={"results": {}})
    with pytest.raises(RetryableTransportError):
        backend.send([event(1)])
    backend.send([event(1), event(2)])
    (one, _), (two, _) = sent(0), sent(1)
    assert one["PostHog-Request-Id"] != two["PostHog-Request-Id"]
    assert two["PostHog-Attempt"] == "1"


def line(**fields: Any) -> bytes:
    base = json.loads(event())
    return json.dumps({**base, **fields}).encode()


@responses.activate
def test_events_v1_would_refuse_the_whole_request_for_are_dropped_alone_and_never_sent(
    backend: CaptureV1Backend,
) -> None:
    good = event(1)
    responses.post(URL, json={"results": {}})
    batch = [
        line(uuid="not-a-uuid"),
        good,
        line(uuid=uuid_of(good)),  # the same uuid again in one request
        line(timestamp="yesterday"),
        line(event=42),
        b"not json",
    ]
    results = backend.send(batch)
    assert results is not None and results.retry == frozenset()
    assert sorted(results.dropped) == [0, 2, 3, 4, 5]
    assert all(reason.endswith("not sent") for reason in results.dropped.values())
    assert [e["uuid"] for e in sent()[1]["batch"]] == [uuid_of(good)]


def test_a_batch_of_only_refused_events_makes_no_request(backend: CaptureV1Backend) -> None:
    results = backend.send([line(uuid=None)])  # no HTTP mock: a request would fail the test
    assert results is not None and list(results.dropped) == [0]


# -- through the pipeline, against a server answering per event --------------------------------


@pytest.fixture
def sink() -> Iterator[LoopbackSink]:
    with LoopbackSink() as running:
        yield running


def test_only_the_events_answered_retry_are_sent_again_and_drops_are_counted_once(
    tmp_path: Path, sink: LoopbackSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="posthog_client")
    sink.respond(200, per_event=("retry", "ok", "drop", "ok", "retry"))
    pipeline = make_pipeline(tmp_path, CaptureV1Backend(API_KEY, sink.url))
    batch = [event(i, secret="s3cr3t") for i in range(5)]
    for item in batch:
        pipeline.submit(item)
    result = pipeline.flush(5)
    pipeline.shutdown(0)
    assert (result.sent, result.dropped, result.pending) == (4, 1, 0)
    first, second = sink.requests
    assert [e["uuid"] for e in second["payload"]["batch"]] == [uuid_of(batch[0]), uuid_of(batch[4])]
    assert first["headers"]["PostHog-Request-Id"] == second["headers"]["PostHog-Request-Id"]
    assert [r["headers"]["PostHog-Attempt"] for r in sink.requests] == ["1", "2"]
    assert sorted(e["uuid"] for e in sink.events) == sorted(
        uuid_of(batch[i]) for i in (0, 1, 3, 4)
    )  # each accepted once: nothing accepted is sent again
    stats = pipeline.stats()
    assert (stats["dropped_rejected_event"], stats["retried"]) == (1, 1)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "invalid_event" in warnings[0]
    assert "s3cr3t" not in warnings[0]


def test_retry_after_on_a_per_event_answer_is_honoured(tmp_path: Path, sink: LoopbackSink) -> None:
    sink.respond(200, {"Retry-After": "1"}, per_event=("ok", "retry"))
    pipeline = make_pipeline(tmp_path, CaptureV1Backend(API_KEY, sink.url))
    for i in range(2):
        pipeline.submit(event(i))
    assert pipeline.flush(5).pending == 0
    pipeline.shutdown(0)
    first, second = sink.requests
    assert second["at"] - first["at"] >= 0.95
