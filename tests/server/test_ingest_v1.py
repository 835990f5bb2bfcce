"""The local server's capture v1 route: per-event answers (a malformed event dropped, the others
stored), whole-request refusals, headers, encodings, and this SDK's v1 path end to end."""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import uuid
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from posthog_client import Client
from posthog_client.server import LocalServer

from . import KEY, T0, request

PATH = "/i/v1/analytics/events"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(KEY) as running:
        yield running


def v1_event(name: str = "e", distinct_id: str = "user", **fields: Any) -> dict[str, Any]:
    return {
        "event": name,
        "uuid": str(uuid.uuid4()),
        "distinct_id": distinct_id,
        "timestamp": T0.isoformat(),
        "options": {},
        "properties": {},
        **fields,
    }


def headers(**overrides: str) -> dict[str, str]:
    base = {
        "Authorization": f"Bearer {KEY}",
        "Content-Type": "application/json",
        "User-Agent": "tests/1",
        "PostHog-Sdk-Info": "posthog-tests/1.2.3",
        "PostHog-Attempt": "1",
        "PostHog-Request-Id": str(uuid.uuid4()),
        "PostHog-Request-Timestamp": T0.isoformat(),
    }
    return {k: v for k, v in {**base, **overrides}.items() if v != ""}


def post(
    server: LocalServer, batch: list[Any], *, body: bytes | None = None, **header: str
) -> tuple[int, Any]:
    payload = {"created_at": T0.isoformat(), "batch": batch}
    data = json.dumps(payload).encode() if body is None else body
    return request(server.url, "POST", PATH, data, headers(**header))


def test_a_malformed_event_is_dropped_and_the_others_are_stored(server: LocalServer) -> None:
    good, other = v1_event("kept"), v1_event("kept too")
    bad = {
        "missing_event_name": v1_event(""),
        "event_name_too_long": v1_event("x" * 201),
        "missing_distinct_id": v1_event(distinct_id="  "),
        "distinct_id_too_large": v1_event(distinct_id="d" * 201),
        "invalid_event_timestamp": v1_event(timestamp="2024-05-01"),
        "malformed_event_properties": v1_event(properties=[1]),
        "invalid_options": v1_event(options={"process_person_profile": "maybe"}),
    }
    status, answer = post(server, [good, *bad.values(), other])
    assert status == 200
    results = answer["results"]
    assert results[good["uuid"]] == results[other["uuid"]] == {"result": "ok"}
    for details, event in bad.items():
        assert results[event["uuid"]] == {"result": "drop", "details": details}
    assert sorted(e.event for e in server.engine.events("user")) == ["kept", "kept too"]


@pytest.mark.parametrize(
    ("batch", "code"),
    [
        ([v1_event(uuid="not-a-uuid")], "invalid_event_uuid"),
        ([v1_event(uuid="")], "missing_event_uuid"),
        ([v1_event(distinct_id=42)], "request_parsing_error"),
        ([v1_event(timestamp=None)], "request_parsing_error"),
        ([v1_event(session_id=1)], "request_parsing_error"),
        (["not an object"], "request_parsing_error"),
    ],
)
def test_what_fails_v1s_typed_parse_refuses_the_whole_request(
    server: LocalServer, batch: list[Any], code: str
) -> None:
    status, answer = post(server, [v1_event("kept"), *batch])
    assert (status, answer["error"]) == (400, code)
    assert set(answer) == {"error", "error_description", "error_uri"}
    assert server.engine.count_events() == 0


def test_a_uuid_twice_refuses_the_whole_request(server: LocalServer) -> None:
    event = v1_event()
    assert post(server, [event, {**event, "event": "again"}])[1]["error"] == "duplicate_event_uuid"


@pytest.mark.parametrize(
    ("header", "status", "code"),
    [
        ({"Authorization": ""}, 401, "missing_authorization"),
        ({"Authorization": "Bearer phc_other"}, 401, "invalid_api_token"),
        ({"Authorization": f"Basic {KEY}"}, 400, "invalid_header_value"),
        ({"PostHog-Sdk-Info": ""}, 400, "missing_required_headers"),
        ({"PostHog-Attempt": "0"}, 400, "invalid_header_value"),
        ({"PostHog-Request-Id": "r1"}, 400, "invalid_header_value"),
        ({"PostHog-Request-Timestamp": "now"}, 400, "invalid_header_value"),
        ({"Content-Type": "text/plain"}, 415, "unsupported_content_type"),
        ({"Content-Encoding": "br"}, 415, "unsupported_encoding"),
    ],
)
def test_request_headers_are_checked_before_the_body(
    server: LocalServer, header: dict[str, str], status: int, code: str
) -> None:
    answer = post(server, [v1_event()], **header)
    assert (answer[0], answer[1]["error"]) == (status, code)


def test_the_body_is_checked_as_a_whole(server: LocalServer) -> None:
    assert post(server, [], body=b"{")[1]["error"] == "request_parsing_error"
    assert post(server, [])[1]["error"] == "empty_batch"
    assert post(server, [], body=b'{"batch": []}')[1]["error"] == "invalid_batch"  # no created_at
    flag = json.dumps({"created_at": T0.isoformat(), "historical_migration": 1, "batch": []})
    assert post(server, [], body=flag.encode())[1]["error"] == "request_parsing_error"


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("identity", bytes)],
)
def test_gzip_and_deflate_bodies_are_read(
    server: LocalServer, encoding: str, compress: Any
) -> None:
    event = v1_event()
    body = compress(json.dumps({"created_at": T0.isoformat(), "batch": [event]}).encode())
    status, answer = post(server, [], body=body, **{"Content-Encoding": encoding})
    assert (status, answer["results"]) == (200, {event["uuid"]: {"result": "ok"}})


def test_an_oversized_or_broken_deflate_body_is_refused(server: LocalServer) -> None:
    assert post(server, [], body=b"\x78\x9cnot", **{"Content-Encoding": "deflate"})[0] == 400
    bomb = zlib.compress(b" " * (21 * 1024 * 1024))
    assert post(server, [], body=bomb, **{"Content-Encoding": "deflate"})[0] == 413


def exchange(server: LocalServer, sent: dict[str, str]) -> tuple[int, Any, Any]:
    """Post one event with headers ``sent``: the status, the response headers and body."""
    url = urlsplit(server.url)
    body = json.dumps({"created_at": T0.isoformat(), "batch": [v1_event()]})
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        connection.request("POST", PATH, body=body, headers=sent)
        response = connection.getresponse()
        data = json.loads(response.read())
    finally:
        connection.close()
    return response.status, response, data


@pytest.mark.parametrize("key", [KEY, "phc_other"])
def test_the_answer_echoes_the_request_id(server: LocalServer, key: str) -> None:
    sent = headers(Authorization=f"Bearer {key}")
    status, response, _ = exchange(server, sent)
    assert status == (200 if key == KEY else 401)
    assert response.getheader("PostHog-Request-Id") == sent["PostHog-Request-Id"]
    assert response.getheader("Retry-After") is None  # only on what is worth retrying


def test_a_failure_to_store_is_a_500_worth_retrying(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk I/O error")

    monkeypatch.setattr(server.engine, "ingest", broken)
    status, response, body = exchange(server, headers())
    assert (status, body["error"], response.getheader("Retry-After")) == (
        500,
        "internal_error",
        "1",
    )


def test_kept_events_are_stored_as_batch_carries_them(server: LocalServer) -> None:
    event = v1_event(
        "$pageview",
        session_id="s-1",
        window_id="w-1",
        options={"process_person_profile": False, "cookieless_mode": "true"},
        properties={"plan": "pro"},
    )
    sent_later = (T0 + timedelta(hours=1)).isoformat()  # the client's clock runs an hour late
    assert post(server, [event], **{"PostHog-Request-Timestamp": sent_later})[0] == 200
    (stored,) = server.engine.events("user")
    assert stored.properties["$session_id"] == "s-1"
    assert stored.properties["$window_id"] == "w-1"
    assert stored.properties["$process_person_profile"] is False  # personless
    assert stored.properties["$cookieless_mode"] is True
    assert (stored.properties["$lib"], stored.properties["$lib_version"]) == (
        "posthog-tests",
        "1.2.3",
    )
    assert server.engine.person("user") is None
    assert abs(stored.timestamp - T0).total_seconds() > 3000  # skew-corrected from the header


def test_this_sdks_v1_path_end_to_end(
    server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="posthog_client")
    with Client(KEY, host=server.url, storage_dir=tmp_path, capture_api="v1") as app:
        app.capture("first", {"plan": "pro"}, distinct_id="user")
        app.capture("n" * 201, distinct_id="user")  # PostHog's v1 drops a name over 200
        app.identify("user", {"email": "a@b.c"})
        result = app.flush(10)
        stats = app.stats()
    assert (result.sent, result.dropped, result.pending) == (2, 1, 0)
    assert stats["dropped_rejected_event"] == 1
    assert sorted(e.event for e in server.engine.events("user")) == ["$identify", "first"]
    person = server.engine.person("user")
    assert person is not None and person.properties["email"] == "a@b.c"
    (warning,) = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert "event_name_too_long" in warning and "nnnn" not in warning
