"""Servers that fail: errors, resets, garbage, hangs, redirects, 413, 429 with any Retry-After,
5xx forever, capture v1's per-event answers and Mixpanel's partial refusals. Nothing is lost,
nothing is sent twice, waits are honoured whoever drives the send. Each server fault is tried on
every transport (``transport``: capture v0, v1 and Mixpanel) or, where the answer is PostHog's
own, on both capture APIs (``capture_api``)."""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from delivery_support import make_pipeline
from loopback_sink import ECHO, LoopbackSink

from posthog_client import DeliveryProblem
from posthog_client._delivery.http import parse_retry_after
from posthog_client.server import LocalServer

from .conftest import (
    API_KEY,
    MIXPANEL_TOKEN,
    MakeApp,
    encoded,
    http_backend,
    line,
    messages,
    sent_uuid,
    transport_options,
)

MAX_PAUSE_S = 30 * 60.0


@pytest.fixture
def app(make_app: MakeApp, capture_api: str) -> MakeApp:
    """Clients of ``make_app`` on the capture API under test."""
    return functools.partial(make_app, capture_api=capture_api)


def uuids(sink: LoopbackSink) -> list[str]:
    return [e["uuid"] for e in sink.events]


def carries_the_key(request: dict[str, Any]) -> bool:
    return bool(
        request["payload"].get("api_key") == API_KEY
        or request["headers"].get("Authorization") == f"Bearer {API_KEY}"
    )


def test_gzip_on_compresses_every_batch_however_small(app: MakeApp, sink: LoopbackSink) -> None:
    client = app(gzip=True)
    client.capture("tiny", distinct_id="u")
    assert client.flush(5).pending == 0
    assert sink.requests[0]["headers"]["Content-Encoding"] == "gzip"
    assert sink.requests[0]["gzip"]


def test_flush_waits_out_retry_after_instead_of_cutting_it_short(
    make_app: MakeApp, sink: LoopbackSink, transport: str
) -> None:
    sink.respond(429, {"Retry-After": "1"})
    app = make_app(**transport_options(transport))
    app.capture("e", distinct_id="u")
    result = app.flush(10)
    assert (result.sent, result.pending) == (1, 0)
    first, second = sink.requests
    assert second["at"] - first["at"] >= 0.95


def test_flush_does_not_cut_the_backoff_short(
    make_app: MakeApp, sink: LoopbackSink, transport: str
) -> None:
    sink.respond(503)
    app = make_app(**transport_options(transport))
    app.capture("e", distinct_id="u")
    assert app.flush(10).pending == 0
    first, second = sink.requests
    assert second["at"] - first["at"] >= 0.45  # backoff 1 s with jitter in [0.5, 1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 7 ", 7.0),
        ("0.5", 0.5),
        ("-5", 0.0),
        ("1e9", MAX_PAUSE_S),
        ("1e400", MAX_PAUSE_S),
        ("inf", MAX_PAUSE_S),
        ("nan", None),
        ("garbage", None),
        ("", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: no wait
    ],
)
def test_any_retry_after_value_is_parsed_safely_and_capped(
    value: str | None, expected: float | None
) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_as_a_future_http_date() -> None:
    date = email.utils.formatdate(time.time() + 60, usegmt=True)
    seconds = parse_retry_after(date)
    assert seconds is not None and 55 <= seconds <= 61


@pytest.mark.parametrize("value", ["1e9", "1e400"])
def test_a_huge_retry_after_pauses_sending_for_at_most_30_minutes(
    tmp_path: Path, sink: LoopbackSink, value: str, capture_api: str
) -> None:
    sink.respond(429, {"Retry-After": value})
    pipeline = make_pipeline(tmp_path, http_backend(capture_api, sink.url))
    try:
        pipeline.submit(encoded(0))
        started = time.monotonic()
        result = pipeline.flush(2)
        assert result.pending == 1
        assert time.monotonic() - started < 1.5  # no point waiting: the pause outlasts the flush
        remaining = pipeline._not_before - time.monotonic()
        assert 60 < remaining <= MAX_PAUSE_S
    finally:
        pipeline.shutdown(0)


def test_shutdown_cuts_a_long_wait_short_and_the_events_stay_on_disk(
    app: MakeApp, sink: LoopbackSink
) -> None:
    sink.respond(429, {"Retry-After": "60"})
    client = app()
    sent = [client.capture("e", {"i": i}, distinct_id="u") for i in range(3)]
    assert client.flush(0.5).pending == 3
    started = time.monotonic()
    assert client.shutdown(1).pending == 3
    assert time.monotonic() - started < 2
    assert len(sink.requests) == 1
    assert app().flush(5).pending == 0  # the next run delivers them
    assert sorted(uuids(sink)) == sorted(sent)


@pytest.mark.parametrize(
    ("status", "location", "path"),
    [
        (308, "/moved/batch/", "/moved/batch/"),
        (307, "{url}/v2/batch/", "/v2/batch/"),
        (301, "{url}/batch", "/batch"),
        (302, "../elsewhere/", None),  # relative to the endpoint's path
    ],
)
def test_a_redirect_on_the_same_host_is_followed(
    app: MakeApp, sink: LoopbackSink, status: int, location: str, path: str | None
) -> None:
    sink.respond(status, {"Location": location.format(url=sink.url)})
    client = app()
    sent = client.capture("e", distinct_id="u")
    assert client.flush(5).pending == 0
    assert uuids(sink) == [sent]
    assert sink.requests[-1]["path"] == (path or urljoin(sink.requests[0]["path"], location))
    assert carries_the_key(sink.requests[-1])


def test_a_redirect_to_another_host_is_not_followed_and_the_events_wait(
    app: MakeApp, sink: LoopbackSink, logs: pytest.LogCaptureFixture
) -> None:
    with LoopbackSink() as elsewhere:
        other = elsewhere.url.replace("127.0.0.1", "localhost") + "/batch/"
        sink.respond(302, {"Location": other}, times=5)
        client = app(max_retries=0)
        client.capture("e", distinct_id="u")
        assert client.flush(2).pending == 1
        assert elsewhere.requests == []  # the key never went to the other host
    errors = messages(logs, logging.ERROR)
    assert len(errors) == 1 and "redirect" in errors[0] and "localhost" in errors[0]
    assert client.stats()["pending"] == 1 and client.stats()["dropped_rejected_4xx"] == 0


@pytest.mark.parametrize(
    ("url", "location", "target"),
    [
        ("http://h.example/batch/", "https://h.example/batch/", "https://h.example/batch/"),
        ("http://h.example/batch/", "/x/", "http://h.example/x/"),
        ("https://h.example/batch/", "https://h.example:8443/b/", "https://h.example:8443/b/"),
        ("https://h.example/batch/", "http://h.example/batch/", None),  # a downgrade
        ("https://h.example/batch/", "https://evil.example/batch/", None),
        ("https://h.example/batch/", "https://h.example.evil/batch/", None),
        ("https://h.example/batch/", "//evil.example/batch/", None),
        ("https://h.example/batch/", "ftp://h.example/batch/", None),
        ("https://h.example/batch/", "https://user@h.example/batch/", None),
    ],
)
def test_redirect_targets_stay_on_the_same_host(
    url: str, location: str, target: str | None
) -> None:
    from posthog_client._delivery.http import (
        redirect_target,  # here: the module also runs on old code
    )

    assert redirect_target(url, location) == target


def test_a_400_that_echoes_the_request_never_logs_the_key(
    app: MakeApp, sink: LoopbackSink, logs: pytest.LogCaptureFixture
) -> None:
    sink.respond(400, body=ECHO)
    client = app()
    client.capture("e", {"blob": "x" * 50_000, "key": API_KEY}, distinct_id="u")
    client.flush(5)
    logged = [r.getMessage() for r in logs.records]
    assert logged and all(API_KEY not in m for m in logged)
    assert max(map(len, logged)) < 1000


@pytest.mark.parametrize("status", [401, 403])
def test_a_wrong_key_is_an_error_that_says_what_to_check(
    app: MakeApp, sink: LoopbackSink, logs: pytest.LogCaptureFixture, status: int
) -> None:
    sink.respond(status)
    client = app()
    client.capture("e", distinct_id="u")
    client.flush(5)
    errors = messages(logs, logging.ERROR)
    assert len(errors) == 1
    assert "project API key" in errors[0] and "personal" in errors[0]
    assert "host" in errors[0] and API_KEY not in errors[0]


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 503, "headers": {"Retry-After": "0"}},
        {"status": 429},
        {"status": 408},
        {"status": 200, "fault": "reset"},
        {"status": 200, "fault": "garbage"},
    ],
    ids=["500", "503", "429", "408", "reset", "garbage"],
)
def test_one_failed_request_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, sink: LoopbackSink, fault: dict[str, object], transport: str
) -> None:
    sink.respond(**fault)  # type: ignore[arg-type]
    pipeline = make_pipeline(tmp_path, http_backend(transport, sink.url, timeout_s=2))
    try:
        for i in range(5):
            pipeline.submit(line(i))
        assert pipeline.flush(5).pending == 0
    finally:
        pipeline.shutdown(0)
    assert sorted(uuids(sink)) == sorted(sent_uuid(i) for i in range(5))
    assert pipeline.stats()["retried"] >= 1


def test_a_hung_server_times_out_and_the_retry_delivers(
    tmp_path: Path, sink: LoopbackSink, capture_api: str
) -> None:
    sink.hang()
    backend = http_backend(capture_api, sink.url, timeout_s=0.3)
    pipeline = make_pipeline(tmp_path, backend, flush_at=1)
    try:
        pipeline.submit(encoded(0))
        assert sink.arrived.wait(5)
        sink.release()
        assert pipeline.flush(5).pending == 0
    finally:
        pipeline.shutdown(0)
    once = [sent_uuid(0)]
    assert uuids(sink) in (once, once * 2)  # the hung request may have been ingested too


def test_5xx_forever_pauses_with_the_events_queued_then_the_next_run_sends_them(
    tmp_path: Path, sink: LoopbackSink, transport: str
) -> None:
    sink.respond(503, times=3)
    pipeline = make_pipeline(tmp_path, http_backend(transport, sink.url), max_retries=2)
    for i in range(4):
        pipeline.submit(line(i))
    assert pipeline.flush(5).pending == 4
    assert len(sink.requests) == 3  # max_retries + 1 attempts, then a pause
    assert pipeline._not_before - time.monotonic() >= 59
    pipeline.shutdown(0)
    assert pipeline._thread is not None
    pipeline._thread.join(5)  # the process is gone: its files are free to adopt
    assert not [k for k, v in pipeline.stats().items() if k.startswith("dropped_") and v]
    later = make_pipeline(tmp_path, http_backend(transport, sink.url))
    assert later.flush(5).pending == 0
    later.shutdown(0)
    assert sorted(uuids(sink)) == sorted(sent_uuid(i) for i in range(4))


def test_413_splits_the_batch_and_delivers_every_event(
    tmp_path: Path, sink: LoopbackSink, transport: str
) -> None:
    sink.respond(413)
    pipeline = make_pipeline(tmp_path, http_backend(transport, sink.url))
    for i in range(6):
        pipeline.submit(line(i))
    assert pipeline.flush(5).pending == 0
    pipeline.shutdown(0)
    assert sorted(uuids(sink)) == sorted(sent_uuid(i) for i in range(6))


def test_mixpanel_refusing_some_events_of_a_batch_drops_only_those_and_resends_none(
    make_app: MakeApp,
) -> None:
    problems: list[DeliveryProblem] = []
    with LocalServer(MIXPANEL_TOKEN, identity="mixpanel-simplified") as server:
        app = make_app(host=server.url, on_error=problems.append, **transport_options("mixpanel"))
        kept = [app.capture("kept", {"i": i}) for i in range(3)]
        app.capture("ancient", timestamp=dt.datetime(1960, 1, 1, tzinfo=dt.timezone.utc))
        kept.append(app.capture("kept", {"i": 3}))
        result = app.flush(5)  # strict /import: 400 listing the one event before 1971
        assert (result.sent, result.dropped, result.pending) == (4, 1, 0)
        assert app.flush(5) == (0, 0, 0)  # nothing waits: the kept events are never resent
        stored = server.mixpanel.events()
    assert sorted(e.insert_id for e in stored) == sorted(kept)  # each once, "ancient" not at all
    assert app.stats()["dropped_rejected_event"] == 1
    assert [(p.kind, p.events) for p in problems] == [("rejected_event", 1)]
    assert "invalid" in problems[0].message and "1960" not in problems[0].message
