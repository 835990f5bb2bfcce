"""The local server started in a Mixpanel mode: Mixpanel's routes over HTTP, the query API and the
explorer in Mixpanel's terms, ``posthog-client serve --identity``."""

from __future__ import annotations

import json
import re
import signal
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest

from posthog_client.server import LocalServer
from posthog_client.server.mixpanel import DEFAULT_TOKEN, ServiceAccount

from .. import get_json, request
from ..test_cli import serving, stop
from . import S, new_device

DEVICE_ID, DEVICE = new_device()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(identity="mixpanel-simplified") as running:
        yield running


def track(server: LocalServer, *records: dict[str, object]) -> tuple[int, object]:
    body = ("data=" + quote(json.dumps(list(records)))).encode()
    return request(
        server.url,
        "POST",
        "/track?verbose=1",
        body,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )


def record(name: str, **properties: object) -> dict[str, object]:
    """A record as mixpanel-python tracks it, now (/track keeps only the last 5 days)."""
    now = int(time.time())
    properties = {"token": DEFAULT_TOKEN, "time": now, "$insert_id": uuid.uuid4().hex, **properties}
    return {"event": name, "properties": properties}


def test_mixpanels_track_replaces_posthogs_and_the_query_api_shows_its_users(
    server: LocalServer,
) -> None:
    assert server.api_key == DEFAULT_TOKEN and server.mixpanel.model_name == "simplified"
    status, answer = track(
        server,
        record("Page Viewed", distinct_id=DEVICE_ID, **{"$device_id": DEVICE}),
        record("Signed Up", distinct_id=DEVICE_ID, **{"$device_id": DEVICE, "$user_id": S}),
    )
    assert (status, answer) == (200, {"status": 1, "error": None})
    status, person = get_json(server.url, "/api/persons?" + urlencode({"distinct_id": DEVICE_ID}))
    assert status == 200 and person["distinct_id"] == S
    assert person["distinct_ids"] == [S, DEVICE_ID]
    status, events = get_json(server.url, "/api/events?" + urlencode({"distinct_id": S}))
    assert [e["event"] for e in events["results"]] == ["Signed Up", "Page Viewed"]  # newest first
    assert get_json(server.url, "/api/persons")[1]["count"] == 1
    assert get_json(server.url, "/api/persons?distinct_id=nobody")[0] == 404
    assert get_json(server.url, "/api/refusals")[1]["results"] == []
    assert get_json(server.url, "/api/groups")[1]["count"] == 0
    assert get_json(server.url, "/api/persons?limit=x")[0] == 400
    status, _ = request(server.url, "POST", "/batch/", b"{}", {"Content-Type": "application/json"})
    assert status == 404  # a PostHog SDK pointed here is told at once, never half-served
    with pytest.raises(RuntimeError, match="mixpanel"):
        _ = server.engine


def test_import_needs_the_token_or_the_service_account() -> None:
    account = ServiceAccount("sa", "secret", "7")
    with LocalServer("tok", identity="mixpanel-original", service_account=account) as server:
        merge = {"token": "tok", "$distinct_ids": ["a", "b"], "$insert_id": "m1"}
        merge["time"] = int(time.time())
        body = json.dumps([{"event": "$merge", "properties": merge}]).encode()
        headers = {"Content-Type": "application/json", "Authorization": "Basic dG9rOg=="}
        assert request(server.url, "POST", "/import", body, headers)[0] == 200
        assert server.mixpanel.person("a").distinct_ids == ("a",)  # type: ignore[union-attr]
        headers["Authorization"] = "Basic c2E6c2VjcmV0"  # sa:secret
        body = body.replace(b'"m1"', b'"m2"')  # else deduplicated (MA10)
        status, answer = request(server.url, "POST", "/import?project_id=7", body, headers)
        assert (status, answer["num_records_imported"]) == (200, 1)
        assert set(server.mixpanel.person("a").distinct_ids) == {"a", "b"}  # type: ignore[union-attr]
        headers["Authorization"] = "Basic d3Jvbmc6"
        assert request(server.url, "POST", "/import", body, headers)[0] == 401


def test_the_explorer_shows_users_their_events_and_refusals() -> None:
    with LocalServer(identity="mixpanel-legacy") as server:
        track(
            server,
            record("$create_alias", distinct_id="12345", alias=S),
            record("Signed Up", distinct_id=S),
            record("$create_alias", distinct_id="67890", alias=S),
        )
        status, page = _page(server, "/")
        assert status == 200 and "2 users" in page and "12345" in page and "legacy" in page
        status, page = _page(server, "/?" + urlencode({"q": S}))
        assert status == 303
        status, page = _page(server, f"/persons/{quote(S, safe='')}")
        assert status == 200 and "Signed Up" in page and "12345" in page
        status, page = _page(server, "/persons/67890")  # the refused alias stays its own (MI3)
        assert status == 200 and "errAliasAlreadyExists" in page
        assert _page(server, "/persons/nobody")[0] == 404
        assert "errAliasAlreadyExists" in _page(server, "/warnings")[1]
        assert "Signed Up" in _page(server, "/events")[1]
        assert get_json(server.url, "/explorer/revision")[1] == {"revision": 1}


def _page(server: LocalServer, path: str) -> tuple[int, str]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_an_unknown_identity_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mixpanel-simplified"):
        LocalServer(identity="mixpanel")  # type: ignore[arg-type]


@pytest.mark.slow
def test_serve_identity_mixpanel_announces_the_model_and_the_token() -> None:
    args = ["serve", "--port", "0", "--identity", "mixpanel-original", "--api-key", "tok",
            "--service-account", "sa:secret:7"]  # fmt: skip
    with serving(args) as (process, url, line):
        assert re.search(r"local Mixpanel server \(original ID merge\) listening on", line)
        assert "project token 'tok'" in line
        body = (
            "data=" + quote(json.dumps(record("Opened", token="tok", distinct_id="u")))
        ).encode()
        status, answer = request(
            url, "POST", "/track", body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert (status, answer) == (200, 1)
        assert get_json(url, "/api/persons?distinct_id=u")[1]["distinct_ids"] == ["u"]
        code, out, _ = stop(process, signal.SIGINT)
    assert code == 0 and "stopped" in out
