"""The local server under hostile input: gzip floods, broken Unicode, absurd paging, bursts."""

from __future__ import annotations

import gzip
import json
import socket
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_client.server import LocalServer
from posthog_client.server._access import AccessPolicy
from posthog_client.server._http import IngestionHTTPServer
from posthog_client.server._router import Router

from . import KEY, get_json, request


def test_a_body_of_many_empty_gzip_members_is_read_in_linear_time(server: LocalServer) -> None:
    # 4 MB of empty members took 34 s (each member copied the rest of the body) and stalled
    # every other client meanwhile
    empty = gzip.compress(b"")
    real = gzip.compress(json.dumps({"api_key": KEY, "event": "x", "distinct_id": "u"}).encode())
    body = empty * (4 * 1024 * 1024 // len(empty)) + real
    started = time.monotonic()
    answer = request(server.url, "POST", "/batch/", body, {"Content-Encoding": "gzip"})
    assert answer == (200, {"status": 1})
    assert time.monotonic() - started < 5
    assert server.engine.count_events() == 1


def test_gzip_members_still_count_against_the_size_limit(server: LocalServer) -> None:
    member = gzip.compress(b" " * 1024 * 1024)  # 1 MB of JSON whitespace each
    body = member * 3 + gzip.compress(b"[]")
    status, answer = request(server.url, "POST", "/e/", body, {"Content-Encoding": "gzip"})
    assert (status, answer["code"]) == (413, "event_too_big")


def test_lone_surrogate_escapes_become_replacement_characters(server: LocalServer) -> None:
    fields = json.dumps({"api_key": KEY})[1:-1]
    body = (
        "{" + fields + ', "event": "click\\ud800", "distinct_id": "user\\udfff",'
        ' "properties": {"\\ud800key": "a\\ud83d", "pair": "\\ud83d\\ude00",'
        ' "$set": {"name": "\\udc00"}}}'
    ).encode()
    assert request(server.url, "POST", "/i/v0/e/", body) == (200, {"status": 1})
    [stored] = server.engine.events("user\ufffd")
    assert stored.event == "click\ufffd"
    assert stored.properties["\ufffdkey"] == "a\ufffd"
    assert stored.properties["pair"] == "\U0001f600"  # a valid pair is kept
    person = server.engine.person("user\ufffd")
    assert person is not None and person.properties["name"] == "\ufffd"
    status, found = get_json(server.url, "/api/events")
    assert status == 200 and found["results"][0]["event"] == "click\ufffd"


def test_out_of_range_numbers_are_refused(server: LocalServer) -> None:
    body = json.dumps({"api_key": KEY, "event": "x", "distinct_id": "u"})[:-1] + ', "n": 1e999}'
    status, answer = request(server.url, "POST", "/i/v0/e/", body.encode())
    assert (status, answer["code"]) == (400, "request_parsing_error")


_SURROGATES = st.sampled_from(["\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\ud83d\\ude00", "a"])
_TEXT = st.lists(_SURROGATES, max_size=4).map("".join)
_VALUE: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,  # nothing written to the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=_TEXT, distinct_id=_TEXT, properties=st.dictionaries(_TEXT, _VALUE, max_size=4))
def test_no_unicode_escape_gets_a_server_error(
    server: LocalServer, name: str, distinct_id: str, properties: dict[str, Any]
) -> None:
    # the escapes are written into the JSON text as they are, so surrogates stay escapes
    fields = {"api_key": KEY, "event": name, "distinct_id": distinct_id}
    text = json.dumps(fields)[:-1] + ', "properties": ' + _escaped(properties) + "}"
    status, _ = request(server.url, "POST", "/i/v0/e/", text.encode())
    assert status in (200, 400)


def _escaped(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}": {_escaped(v)}' for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_escaped(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return json.dumps(value)


def test_out_of_range_paging_is_400_never_500(server: LocalServer) -> None:
    for query in ("offset=" + "9" * 30, "limit=" + "9" * 5000, "offset=99999999999999999999"):
        status, answer = get_json(server.url, f"/api/events?{query}")
        assert (status, answer["code"]) == (400, "invalid_parameter"), query
        status, answer = get_json(server.url, f"/api/persons?{query}")
        assert status == 400, query
    assert get_json(server.url, f"/api/events?offset={2**62}")[0] == 200


def test_a_burst_of_connections_is_queued_not_dropped() -> None:
    # bound but not yet accepting: every connection must wait in the listen backlog (it held
    # 5, so the sixth waited a second for a SYN retransmit)
    httpd = IngestionHTTPServer(("127.0.0.1", 0), Router(), AccessPolicy("127.0.0.1", None))
    sockets = []
    try:
        for _ in range(100):
            client = socket.socket()
            sockets.append(client)
            client.settimeout(0.2)
            client.connect(httpd.server_address[:2])
    finally:
        for client in sockets:
            client.close()
        httpd.server_close()
