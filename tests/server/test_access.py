"""Who may read the local server: Host header check (DNS rebinding) and the personal API key."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from email.message import Message
from urllib.parse import urlsplit

import pytest

from posthog_client.server import LocalServer
from posthog_client.server._access import KEY_COOKIE, AccessPolicy, is_loopback

from . import KEY, event, post_json, request

PERSONAL_KEY = "phx_test_key"


def exchange(
    server: LocalServer, path: str, headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    """A GET on its own connection; the response is read (``.data``) and returned."""
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.data = response.read()  # type: ignore[attr-defined]
    finally:
        connection.close()
    return response


@pytest.fixture
def keyed() -> Iterator[LocalServer]:
    with LocalServer(KEY, personal_api_key=PERSONAL_KEY) as server:
        yield server


@pytest.mark.parametrize("path", ["/api/persons", "/api/events", "/", "/events", "/warnings"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8010", "127.0.0.1.nip.io"])
def test_reads_refuse_unknown_host_headers(server: LocalServer, path: str, host: str) -> None:
    response = exchange(server, path, {"Host": host})
    assert response.status == 403


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "LOCALHOST:1", "[::1]:8010", "[::1]", "app.localhost:80"]
)
def test_reads_answer_loopback_host_headers(server: LocalServer, host: str) -> None:
    assert exchange(server, "/api/persons", {"Host": host}).status == 200


def test_ingestion_accepts_any_host_like_posthog_capture(server: LocalServer) -> None:
    payload = {"api_key": KEY, "batch": [event("$pageview", "u1")]}
    assert post_json(server.url, "/batch/", payload, Host="events.example")[0] == 200


def test_allowed_hosts_extend_the_list() -> None:
    with LocalServer(KEY, allowed_hosts=["posthog-local"]) as server:
        assert exchange(server, "/api/persons", {"Host": "posthog-local:8010"}).status == 200
        assert exchange(server, "/api/persons", {"Host": "other"}).status == 403
    with LocalServer(KEY, allowed_hosts=["*"]) as server:
        assert exchange(server, "/api/persons", {"Host": "anything"}).status == 200


@pytest.mark.parametrize("path", ["/api/persons", "/api/ingestion_warnings", "/explorer/revision"])
def test_the_api_needs_the_personal_key_when_one_is_set(keyed: LocalServer, path: str) -> None:
    status, answer = request(keyed.url, "GET", path)
    assert (status, answer["code"]) == (401, "authentication_required")
    assert request(keyed.url, "GET", path, headers={"Authorization": "Bearer wrong"})[0] == 401
    bearer = {"Authorization": f"Bearer {PERSONAL_KEY}"}
    assert request(keyed.url, "GET", path, headers=bearer)[0] == 200
    assert request(keyed.url, "GET", f"{path}?key={PERSONAL_KEY}")[0] == 200


def test_ingestion_needs_no_personal_key(keyed: LocalServer) -> None:
    payload = {"api_key": KEY, "batch": [event("$pageview", "u1")]}
    assert post_json(keyed.url, "/batch/", payload) == (200, {"status": 1})


def test_explorer_opened_with_the_key_remembers_it_in_a_cookie(keyed: LocalServer) -> None:
    assert exchange(keyed, "/").status == 401
    assert keyed.explorer_url == f"{keyed.url}/?key={PERSONAL_KEY}"
    opened = exchange(keyed, f"/events?offset=0&key={PERSONAL_KEY}")
    assert opened.status == 303
    assert opened.getheader("Location") == "/events?offset=0"  # the key leaves the URL
    cookie = opened.getheader("Set-Cookie") or ""
    assert cookie.startswith(f"{KEY_COOKIE}={PERSONAL_KEY};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = exchange(keyed, "/events", {"Cookie": f"{KEY_COOKIE}={PERSONAL_KEY}"})
    assert page.status == 200
    assert exchange(keyed, "/", {"Cookie": f"{KEY_COOKIE}=nope"}).status == 401


def test_static_files_need_no_key(keyed: LocalServer) -> None:
    assert exchange(keyed, "/explorer/app.css").status == 200


def test_a_key_is_made_when_bound_beyond_loopback() -> None:
    exposed = LocalServer(KEY, host="0.0.0.0")  # never started: nothing is bound
    assert exposed.personal_api_key is not None and exposed.personal_api_key.startswith("phx_")
    assert LocalServer(KEY, host="0.0.0.0", personal_api_key="mine").personal_api_key == "mine"
    assert LocalServer(KEY).personal_api_key is None
    assert LocalServer(KEY).explorer_url.endswith("/")
    with pytest.raises(ValueError, match="personal_api_key"):
        LocalServer(KEY, personal_api_key=" ")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def headers(**values: str) -> Message:
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


def test_a_server_bound_to_every_interface_answers_to_this_machines_names() -> None:
    import socket

    policy = AccessPolicy("0.0.0.0", "k")
    assert policy.host_allowed(headers(Host=f"{socket.gethostname()}:8010"))
    assert policy.host_allowed(headers(Host="localhost"))
    assert not policy.host_allowed(headers(Host="attacker.example"))
    assert AccessPolicy("192.168.1.5", None).host_allowed(headers(Host="192.168.1.5:8010"))


def test_requests_without_a_host_header_are_answered() -> None:
    assert AccessPolicy("127.0.0.1", None).host_allowed(headers())


def test_key_comparison_tolerates_odd_input() -> None:
    policy = AccessPolicy("127.0.0.1", "phx_é")
    assert policy.key_given(headers(Authorization="Bearer phx_é"), {})
    assert not policy.key_given(headers(Cookie='bad"cookie; =;'), {"key": ["\x00"]})
