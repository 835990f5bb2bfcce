"""Handing an identity on: tracing headers for a backend, deep links between apps (seeds:
"Carried to the backend", "How to identify users across platforms")."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import posthog_client
from posthog_client import Client, identify_context, new_context, set_context_session
from posthog_client._linking import build_deep_link, handle_deep_link, tracing_headers
from posthog_client.testing import MemoryBackend

Sent = Callable[[Client], list[dict[str, Any]]]
MakeClient = Callable[..., Client]


@pytest.fixture
def web(make_client: MakeClient, tmp_path: Path) -> Client:
    return make_client(storage_dir=tmp_path / "web")


@pytest.fixture
def app(make_client: MakeClient, tmp_path: Path) -> Client:
    return make_client(storage_dir=tmp_path / "app")


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# -- tracing headers ---------------------------------------------------------------------------


def test_tracing_headers_carry_the_clients_distinct_id_and_session(web: Client) -> None:
    assert tracing_headers(web) == {
        "X-POSTHOG-DISTINCT-ID": web.get_distinct_id(),
        "X-POSTHOG-SESSION-ID": web.get_session_id(),
    }


def test_tracing_headers_inside_a_context_carry_the_contexts_ids(web: Client) -> None:
    with new_context():
        identify_context("user_42")
        set_context_session("frontend-session")
        assert tracing_headers(web) == {
            "X-POSTHOG-DISTINCT-ID": "user_42",
            "X-POSTHOG-SESSION-ID": "frontend-session",
        }
        with new_context(fresh=True):
            set_context_session("orphan-session")
            assert tracing_headers(web) == {}  # nobody to hand on


def test_tracing_headers_use_the_global_client(backend: MemoryBackend, storage_dir: Path) -> None:
    client = posthog_client.init("phc_test", backend=backend, storage_dir=storage_dir)
    assert tracing_headers()["X-POSTHOG-DISTINCT-ID"] == client.get_distinct_id()


def test_nothing_is_handed_on_before_init_or_when_opted_out(
    web: Client, caplog: pytest.LogCaptureFixture
) -> None:
    assert tracing_headers() == {}
    assert build_deep_link("myapp://open") == "myapp://open"
    assert "called before init()" in caplog.text
    web.opt_out()
    assert tracing_headers(web) == {}
    with new_context():
        identify_context("user_42")
        assert tracing_headers(web) == {}


# -- building deep links -----------------------------------------------------------------------


def test_deep_link_adds_ids_and_keeps_the_rest_of_the_url(web: Client) -> None:
    url = "myapp://welcome/step?utm_source=web&x=a%20b+c#section"
    link = build_deep_link(url, web)
    assert link.startswith("myapp://welcome/step?utm_source=web&x=a%20b+c&ph_distinct_id=")
    assert link.endswith("#section")
    assert query(link)["ph_distinct_id"] == [web.get_distinct_id()]
    assert query(link)["ph_session_id"] == [web.get_session_id()]


def test_deep_link_replaces_the_ids_of_an_earlier_link(web: Client) -> None:
    link = build_deep_link("https://app.example/open?ph_distinct_id=old&ph_session_id=old", web)
    assert query(link)["ph_distinct_id"] == [web.get_distinct_id()]
    assert query(link)["ph_session_id"] == [web.get_session_id()]


def test_deep_link_encodes_ids_and_works_without_a_query(web: Client) -> None:
    with new_context():
        identify_context("ada@example.com")
        link = build_deep_link("myapp:///profile", web)
    assert link == "myapp:///profile?ph_distinct_id=ada%40example.com"


# -- receiving deep links ----------------------------------------------------------------------


def test_unauthenticated_app_identifies_with_the_web_id(
    web: Client, app: Client, backend: MemoryBackend
) -> None:
    app_anonymous_id = app.get_distinct_id()
    link = build_deep_link("myapp://welcome", web)
    assert handle_deep_link(link, authenticated=False, client=app)
    app.flush(5)
    (event,) = backend.events
    assert event["event"] == "$identify"
    assert event["distinct_id"] == web.get_distinct_id()
    assert event["properties"]["$anon_distinct_id"] == app_anonymous_id
    assert app.get_distinct_id() == web.get_distinct_id()


def test_authenticated_app_aliases_the_web_id(
    web: Client, app: Client, backend: MemoryBackend
) -> None:
    app.identify("user_1")
    link = build_deep_link("myapp://welcome", web)
    assert handle_deep_link(link, authenticated=True, client=app)
    app.flush(5)
    alias = backend.events[-1]
    assert alias["event"] == "$create_alias"
    assert alias["distinct_id"] == "user_1"
    assert alias["properties"]["alias"] == web.get_distinct_id()
    assert app.get_distinct_id() == "user_1"


def test_link_without_an_id_changes_nothing(app: Client, backend: MemoryBackend) -> None:
    assert not handle_deep_link("myapp://welcome?utm_source=web", authenticated=False, client=app)
    assert not handle_deep_link("myapp://welcome#ph_distinct_id=x", authenticated=False, client=app)
    app.flush(5)
    assert backend.events == []


@pytest.mark.parametrize(
    "bad", ["null", "undefined", "%20%20", "a%0Ab", "x" * 201, "distinct_id", "%00"]
)
def test_unusable_ids_are_refused_even_in_strict_mode(
    make_client: MakeClient,
    backend: MemoryBackend,
    caplog: pytest.LogCaptureFixture,
    bad: str,
) -> None:
    strict = make_client(strict=True, persist=False)
    with caplog.at_level(logging.WARNING):
        result = handle_deep_link(
            f"myapp://x?ph_distinct_id={bad}", authenticated=True, client=strict
        )
    assert result is False
    strict.flush(5)
    assert backend.events == []
    assert "deep link ignored" in caplog.text


def test_handle_before_init_returns_false() -> None:
    assert not handle_deep_link("myapp://x?ph_distinct_id=web_1", authenticated=False)


def test_handle_uses_the_global_client(backend: MemoryBackend, storage_dir: Path) -> None:
    client = posthog_client.init("phc_test", backend=backend, storage_dir=storage_dir)
    assert handle_deep_link("myapp://x?ph_distinct_id=web_1", authenticated=False)
    assert client.get_distinct_id() == "web_1"
