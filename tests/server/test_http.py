"""The local server over HTTP: routes, body shapes, compression, limits, keys, errors, queries."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import socket
import time
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from posthog_client.server import LocalServer

from . import KEY, T0, event, get_json, identify, post_json, request

PLAIN = {"event": "x", "distinct_id": "u1"}
ROUTES = ["/batch/", "/batch", "/capture/", "/e/", "/e", "/i/v0/e/", "/track/"]


def batch(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"api_key": KEY, "batch": list(events), **fields}


def nothing_stored(server: LocalServer) -> bool:
    engine = server.engine
    return engine.count_events() == 0 and engine.count_persons() == 0 and engine.warnings() == []


def assert_still_serving(server: LocalServer) -> None:
    assert post_json(server.url, "/batch/", batch(event("$pageview", "probe"))) == (
        200,
        {"status": 1},
    )


def assert_rejected(server: LocalServer, answer: tuple[int, Any], status: int, code: str) -> None:
    assert answer[0] == status
    assert answer[1]["status"] == status and answer[1]["code"] == code and answer[1]["error"]
    assert nothing_stored(server)
    assert_still_serving(server)


# ingestion routes and body shapes


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("shape", ["batch", "array", "single"])
def test_every_route_accepts_every_body_shape(server: LocalServer, route: str, shape: str) -> None:
    one, two = event("$pageview", "u1", {"token": KEY}), event("$pageview", "u2", {"token": KEY})
    payload: object = {"batch": batch(one, two), "array": [one, two], "single": one}[shape]
    assert post_json(server.url, route, payload) == (200, {"status": 1})
    assert server.engine.count_events() == (1 if shape == "single" else 2)


@pytest.mark.parametrize(
    "carrier",
    [
        lambda e: {**e, "token": KEY},
        lambda e: {**e, "$token": KEY},
        lambda e: {**e, "api_key": KEY},
        lambda e: {**e, "properties": {"token": KEY}},
        lambda e: {"api_key": KEY, "batch": [e]},
        lambda e: {"token": KEY, "batch": [e]},
    ],
)
def test_project_key_is_read_from_every_place_posthog_reads_it(
    server: LocalServer, carrier: Any
) -> None:
    assert post_json(server.url, "/i/v0/e/", carrier(event("$pageview", "u1")))[0] == 200
    assert server.engine.count_events() == 1


def test_retried_batch_stores_nothing_twice(server: LocalServer) -> None:
    payload = batch(event("$pageview", "anon"), identify("user", "anon"))
    for _ in range(3):
        assert post_json(server.url, "/batch/", payload) == (200, {"status": 1})
    assert server.engine.count_events() == 2


def test_beacon_requests_get_204(server: LocalServer) -> None:
    assert post_json(server.url, "/e/?beacon=1", batch(event("$pageview", "u1"))) == (204, None)
    assert server.engine.count_events() == 1


def test_sent_at_from_the_query_string_corrects_clock_skew(server: LocalServer) -> None:
    ahead_ms = int((time.time() + 3600) * 1000)  # the client's clock is an hour ahead
    payload = event("$pageview", "u1", {"token": KEY}, at=T0)
    assert post_json(server.url, f"/e/?_={ahead_ms}", payload)[0] == 200
    skew = T0 - server.engine.events()[0].timestamp
    assert abs(skew.total_seconds() - 3600) < 60


# compression


def test_gzip_is_detected_by_magic_bytes(server: LocalServer) -> None:
    body = gzip.compress(json.dumps(batch(event("$pageview", "u1"))).encode())
    assert request(server.url, "POST", "/batch/", body, {"Content-Type": "text/plain"})[0] == 200
    assert server.engine.count_events() == 1


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/batch/", {"Content-Encoding": "gzip"}),
        ("/i/v0/e/?compression=gzip-js", {}),
        ("/e/?compression=gzip", {}),
    ],
)
def test_gzip_announced_by_header_or_query(
    server: LocalServer, path: str, headers: dict[str, str]
) -> None:
    body = gzip.compress(
        json.dumps(batch(event("$pageview", "u1"), event("$pageview", "u2"))).encode()
    )
    assert request(server.url, "POST", path, body, headers)[0] == 200
    assert server.engine.count_events() == 2


@pytest.mark.parametrize("hint", ["base64", "b64"])
def test_base64_bodies(server: LocalServer, hint: str) -> None:
    body = base64.b64encode(json.dumps(batch(event("$pageview", "u1"))).encode())
    assert request(server.url, "POST", f"/e/?compression={hint}", body)[0] == 200
    assert server.engine.count_events() == 1


def test_form_body_with_base64_data_field(server: LocalServer) -> None:
    data = base64.b64encode(json.dumps([event("$pageview", "u1", {"token": KEY})]).encode())
    body = urlencode({"data": data.decode(), "compression": "base64"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert request(server.url, "POST", "/e/", body, headers)[0] == 200
    assert server.engine.count_events() == 1


def test_base64_of_gzip(server: LocalServer) -> None:
    body = base64.b64encode(gzip.compress(json.dumps(batch(event("$pageview", "u1"))).encode()))
    assert request(server.url, "POST", "/e/?compression=b64", body)[0] == 200


# rejected requests: clear status, JSON error, nothing stored, server keeps serving


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "request_parsing_error"),
        (b"", "request_parsing_error"),
        (b'"a string"', "request_parsing_error"),
        (b'{"api_key": "k", "batch": {"event": "x"}}', "request_parsing_error"),
        (
            b'[{"event": "x", "distinct_id": "u", "properties": {"v": NaN}}]',
            "request_parsing_error",
        ),
        (b"\xff\xfe\x00", "request_parsing_error"),
        (json.dumps(batch()).encode(), "empty_batch"),
        (json.dumps([]).encode(), "empty_batch"),
    ],
)
def test_malformed_bodies_are_rejected(server: LocalServer, body: bytes, code: str) -> None:
    assert_rejected(server, request(server.url, "POST", "/batch/", body), 400, code)


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ({"distinct_id": "u1"}, "missing_event_name"),
        ({"event": "", "distinct_id": "u1"}, "missing_event_name"),
        ({"event": 7, "distinct_id": "u1"}, "missing_event_name"),
        ({"event": "x"}, "missing_distinct_id"),
        ({"event": "x", "distinct_id": ""}, "missing_distinct_id"),
        ({"event": "x", "distinct_id": "  \t"}, "missing_distinct_id"),
        ({"event": "x", "distinct_id": None}, "missing_distinct_id"),
        ({"event": "x", "distinct_id": "u1", "uuid": "not-a-uuid"}, "request_parsing_error"),
        ({"event": "x", "distinct_id": "u1", "properties": []}, "request_parsing_error"),
        ({"event": "x", "distinct_id": "u1", "timestamp": 1714651200}, "request_parsing_error"),
        ({"event": "x", "distinct_id": "u1", "offset": "5"}, "request_parsing_error"),
        ("just a string", "request_parsing_error"),
    ],
)
def test_one_bad_event_rejects_the_whole_batch(server: LocalServer, bad: Any, code: str) -> None:
    payload = batch(identify("user", "anon"), event("$pageview", "fine"), bad)
    answer = post_json(server.url, "/batch/", payload)
    assert_rejected(server, answer, 400, code)
    assert "event 2" in answer[1]["error"]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"batch": [PLAIN]}, 401, "ingest_key_required"),
        ([PLAIN], 401, "ingest_key_required"),
        ({"api_key": "phc_other", "batch": [PLAIN]}, 403, "ingest_key_unknown"),
        ({**PLAIN, "properties": {"token": "phc_other"}}, 403, "ingest_key_unknown"),
        ({"api_key": KEY, "batch": [{**PLAIN, "token": "phc_other"}]}, 400, "unroutable_events"),
    ],
)  # fmt: skip
def test_project_key_is_checked(server: LocalServer, payload: Any, status: int, code: str) -> None:
    assert_rejected(server, post_json(server.url, "/batch/", payload), status, code)


def test_body_over_the_route_limit_is_413(server: LocalServer) -> None:
    big = batch(event("$pageview", "u1", {"blob": "x" * (2 * 1024 * 1024)}))
    assert_rejected(server, post_json(server.url, "/e/", big), 413, "event_too_big")
    assert post_json(server.url, "/batch/", big)[0] == 200  # /batch/ takes up to 20 MB


@pytest.mark.parametrize(
    ("route", "size"), [("/e/", 3 * 1024 * 1024), ("/batch/", 21 * 1024 * 1024)]
)
def test_gzip_bomb_is_413(server: LocalServer, route: str, size: int) -> None:
    bomb = gzip.compress(b" " * size, compresslevel=9)
    assert len(bomb) < size // 500
    answer = request(server.url, "POST", route, bomb, {"Content-Encoding": "gzip"})
    assert_rejected(server, answer, 413, "event_too_big")


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/batch/", b"\x1f\x8b not really gzip", "request_decoding_error"),
        (
            "/batch/",
            gzip.compress(b'{"api_key": "x", "batch": []}')[:-12],
            "request_decoding_error",
        ),
        ("/e/?compression=base64", b"%%% not base64 %%%", "request_decoding_error"),
        ("/e/?compression=lz64", b"N4Ig", "request_decoding_error"),
    ],
)
def test_undecodable_bodies_are_400(server: LocalServer, path: str, body: bytes, code: str) -> None:
    assert_rejected(server, request(server.url, "POST", path, body), 400, code)


def test_illegal_ids_are_accepted_and_warned_about(server: LocalServer) -> None:
    merge = identify("user", "anonymous")
    assert post_json(server.url, "/batch/", batch(merge)) == (200, {"status": 1})
    status, warnings = get_json(server.url, "/api/ingestion_warnings")
    assert status == 200 and warnings["count"] == 1
    [warning] = warnings["results"]
    assert warning["type"] == "cannot_merge_with_illegal_distinct_id"
    assert warning["details"] == {
        "illegalDistinctId": "anonymous",
        "otherDistinctId": "user",
        "eventUuid": merge["uuid"],
    }
    assert server.engine.count_events() == 1


def raw_exchange(server: LocalServer, data: bytes) -> bytes:
    """Send ``data`` as is and read the reply until the server closes the connection."""
    with socket.create_connection((server.host, server.port), timeout=10) as connection:
        connection.sendall(data)
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
    return reply


def test_chunked_bodies_need_a_length(server: LocalServer) -> None:
    head = b"POST /batch/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    reply = raw_exchange(server, head + b"2\r\n{}\r\n0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 411") and b'"code": "length_required"' in reply
    assert_still_serving(server)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/nowhere", 404, "not_found"),
        ("GET", "/nowhere", 404, "not_found"),
        ("GET", "/batch/", 404, "not_found"),
        ("GET", "/api", 404, "not_found"),
        ("PUT", "/batch/", 501, "not_implemented"),
        ("DELETE", "/api/persons", 501, "not_implemented"),
    ],
)
def test_unknown_routes_and_methods_answer_json(
    server: LocalServer, method: str, path: str, status: int, code: str
) -> None:
    answer = request(server.url, method, path, b"{}")
    assert answer == (status, {"status": status, "code": code, "error": answer[1]["error"]})
    assert_still_serving(server)


def test_garbage_request_line_is_answered_and_survived(server: LocalServer) -> None:
    reply = raw_exchange(server, b"NOT HTTP AT ALL\r\n\r\n")
    assert b'"code": "bad_request"' in reply  # an HTTP/0.9-style answer: no status line
    assert_still_serving(server)


def test_keep_alive_connection_serves_many_requests(server: LocalServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        for n in range(3):
            body = json.dumps(batch(event("$pageview", f"u{n}"))).encode()
            connection.request("POST", "/batch/", body=body)
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())) == (200, {"status": 1})
    finally:
        connection.close()
    assert server.engine.count_events() == 3


def test_stop_closes_idle_keep_alive_connections() -> None:
    server = LocalServer(KEY).start()
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("GET", "/api/persons")
        connection.getresponse().read()
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 5
    finally:
        connection.close()
    assert server.wait(0)


# query API


def seed_story(server: LocalServer) -> dict[str, Any]:
    anon = [event("$pageview", "anon", {"n": n}, at=T0.replace(minute=n)) for n in range(3)]
    login = identify("user", "anon", {"$set": {"email": "a@example.com"}}, at=T0.replace(minute=10))
    other = event("$pageview", "stranger", at=T0.replace(minute=20))
    assert post_json(server.url, "/batch/", batch(*anon, login, other))[0] == 200
    return {"anon": anon, "login": login, "other": other}


def test_person_by_any_distinct_id(server: LocalServer) -> None:
    seed_story(server)
    status, by_anon = get_json(server.url, "/api/persons?distinct_id=anon")
    assert status == 200
    assert by_anon == get_json(server.url, "/api/persons?distinct_id=user")[1]
    assert by_anon["distinct_ids"] == ["anon", "user"]  # oldest first
    assert by_anon["is_identified"] is True
    assert by_anon["properties"]["email"] == "a@example.com"
    assert get_json(server.url, f"/api/persons/{by_anon['uuid']}") == (200, by_anon)


def test_unknown_person_is_404(server: LocalServer) -> None:
    status, body = get_json(server.url, "/api/persons?distinct_id=nobody")
    assert (status, body["code"]) == (404, "person_not_found")
    status, body = get_json(server.url, "/api/persons/00000000-0000-0000-0000-000000000000")
    assert (status, body["code"]) == (404, "person_not_found")


def test_persons_list(server: LocalServer) -> None:
    seed_story(server)
    status, page = get_json(server.url, "/api/persons?limit=1")
    assert status == 200 and page["count"] == 2 and len(page["results"]) == 1
    assert (page["limit"], page["offset"]) == (1, 0)


def test_event_history_by_any_id_newest_first_and_paginated(server: LocalServer) -> None:
    story = seed_story(server)
    expected = [story["login"]["uuid"], *(e["uuid"] for e in reversed(story["anon"]))]
    for distinct_id in ("anon", "user"):
        status, page = get_json(server.url, f"/api/events?distinct_id={distinct_id}")
        assert status == 200 and page["count"] == 4
        assert [e["uuid"] for e in page["results"]] == expected
    status, page = get_json(server.url, "/api/events?distinct_id=user&limit=2&offset=1")
    assert [e["uuid"] for e in page["results"]] == expected[1:3]
    assert (
        page["results"][0]["person_uuid"]
        == get_json(server.url, "/api/persons?distinct_id=user")[1]["uuid"]
    )


def test_all_events_without_distinct_id(server: LocalServer) -> None:
    story = seed_story(server)
    status, page = get_json(server.url, "/api/events")
    assert status == 200 and page["count"] == 5
    assert page["results"][0]["uuid"] == story["other"]["uuid"]
    assert page["results"][0]["timestamp"].startswith("2024-05-01T12:20:00")


def test_events_of_unknown_id_are_empty(server: LocalServer) -> None:
    assert get_json(server.url, f"/api/events?distinct_id={quote('no body')}") == (
        200,
        {"results": [], "count": 0, "limit": 100, "offset": 0},
    )


@pytest.mark.parametrize(
    "query", ["limit=-1", "limit=abc", "offset=1.5", "limit=10001", "limit=%C2%B2"]
)
def test_bad_pagination_is_400(server: LocalServer, query: str) -> None:
    status, body = get_json(server.url, f"/api/events?{query}")
    assert (status, body["code"]) == (400, "invalid_parameter")
