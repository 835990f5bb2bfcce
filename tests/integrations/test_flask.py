"""The Flask extension on a real Flask app (its test client)."""

from __future__ import annotations

import pytest

flask = pytest.importorskip("flask")

import logging  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask, abort, g, request  # noqa: E402

import posthog_client  # noqa: E402
from posthog_client._identity.context import current_context  # noqa: E402
from posthog_client.integrations.flask import PostHog  # noqa: E402

Events = Callable[[], list[dict[str, Any]]]
FRONTEND = {"X-POSTHOG-DISTINCT-ID": "web_user_1", "X-POSTHOG-SESSION-ID": "web_session_1"}


def make_app(*, testing: bool = True, **options: Any) -> Flask:
    app = Flask(__name__)
    app.testing = testing

    @app.before_request
    def load_user() -> None:  # the app's own login hook, registered before the extension
        g.user = request.headers.get("X-Test-User")
        posthog_client.capture("hook_event")

    PostHog(app, user_id=lambda _request: g.user, **options)

    @app.get("/capture")
    def capture() -> str:
        posthog_client.capture("view_event", {"echo": request.headers.get("X-Echo")})
        return "ok"

    @app.get("/async")
    async def capture_async() -> str:
        posthog_client.capture("async_view_event")
        return "ok"

    @app.get("/boom")
    def boom() -> str:
        raise ZeroDivisionError("boom")

    @app.get("/missing")
    def missing() -> str:
        abort(404)

    return app


def only(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (event,) = [e for e in events if e["event"] == name]
    return event


def test_frontend_headers_identify_the_request(events: Events) -> None:
    headers = {**FRONTEND, "User-Agent": "test-agent"}
    assert make_app().test_client().get("/capture?q=1", headers=headers).status_code == 200
    sent = events()
    event = only(sent, "view_event")
    props = event["properties"]
    assert event["distinct_id"] == "web_user_1"
    assert props["$session_id"] == "web_session_1"
    assert props["$current_url"] == "http://localhost/capture?q=1"
    assert props["$request_method"] == "GET"
    assert props["$request_path"] == "/capture"
    assert props["$user_agent"] == "test-agent"
    assert props["$is_server"] is True
    assert "$ip" not in props
    assert only(sent, "hook_event")["distinct_id"] == "web_user_1"  # the app's hooks run inside
    assert current_context() is None  # closed on teardown


def test_ip_is_tagged_only_when_enabled(events: Events) -> None:
    make_app(capture_ip=True).test_client().get("/capture")
    assert only(events(), "view_event")["properties"]["$ip"] == "127.0.0.1"


def test_user_id_is_the_fallback_and_the_header_wins(events: Events) -> None:
    client = make_app().test_client()
    client.get("/capture", headers={"X-Test-User": "7", "X-Echo": "user"})
    client.get("/capture", headers={"X-Test-User": "7", "X-Echo": "header", **FRONTEND})
    client.get("/capture", headers={"X-Echo": "anonymous"})
    by_echo = {e["properties"]["echo"]: e for e in events() if e["event"] == "view_event"}
    assert by_echo["user"]["distinct_id"] == "7"
    assert by_echo["header"]["distinct_id"] == "web_user_1"
    assert by_echo["anonymous"]["properties"]["$process_person_profile"] is False


def test_init_app_and_no_fallback(events: Events) -> None:
    app = Flask(__name__)
    extension = PostHog()
    extension.init_app(app)

    @app.get("/")
    def index() -> str:
        posthog_client.capture("view_event")
        return "ok"

    app.test_client().get("/", headers={"X-Test-User": "7"})
    assert app.extensions["posthog_client"] is extension
    assert only(events(), "view_event")["properties"]["$process_person_profile"] is False


def test_failing_user_id_callable_never_breaks_the_request(
    events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    app.extensions["posthog_client"].user_id = lambda _request: g.no_such_attribute
    assert app.test_client().get("/capture").status_code == 200
    assert only(events(), "view_event")["properties"]["$process_person_profile"] is False
    assert "user_id callable raised AttributeError" in caplog.text


@pytest.mark.parametrize("bad", ["null", "None", "x" * 201, "bell\x07", "\x85next-line"])
def test_bad_headers_are_ignored_with_a_rate_limited_warning(
    events: Events, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    client = make_app().test_client()
    headers = {"X-POSTHOG-DISTINCT-ID": bad, "X-POSTHOG-SESSION-ID": bad}
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert client.get("/capture", headers=headers).status_code == 200
    views = [e for e in events() if e["event"] == "view_event"]
    assert len(views) == 3
    assert all(e["properties"]["$process_person_profile"] is False for e in views)
    assert all("$session_id" not in e["properties"] for e in views)
    assert caplog.text.count("ignored the id from X-POSTHOG-DISTINCT-ID") == 1


def test_unhandled_exception_is_captured_and_reraised(events: Events) -> None:
    with pytest.raises(ZeroDivisionError, match="boom"):
        make_app().test_client().get("/boom", headers=FRONTEND)
    event = only(events(), "$exception")
    assert event["distinct_id"] == "web_user_1"
    assert event["properties"]["$request_path"] == "/boom"
    assert event["properties"]["$exception_type"] == "ZeroDivisionError"
    assert current_context() is None


def test_exception_becomes_a_500_as_usual(events: Events) -> None:
    response = make_app(testing=False).test_client().get("/boom", headers=FRONTEND)
    assert response.status_code == 500
    assert only(events(), "$exception")["distinct_id"] == "web_user_1"


def test_http_errors_and_disabled_capture_send_no_exception(events: Events) -> None:
    assert make_app().test_client().get("/missing").status_code == 404
    with pytest.raises(ZeroDivisionError):
        make_app(capture_exceptions=False).test_client().get("/boom")
    assert [e for e in events() if e["event"] == "$exception"] == []


def test_exceptions_go_to_the_configured_client(
    events: Events, make_client: Callable[..., posthog_client.Client]
) -> None:
    own = make_client(mode="server")
    with pytest.raises(ZeroDivisionError):
        make_app(client=own).test_client().get("/boom", headers=FRONTEND)
    own.flush(5)
    assert only(events(), "$exception")["distinct_id"] == "web_user_1"


def test_async_views_run_in_the_request_context(events: Events) -> None:
    pytest.importorskip("asgiref")
    make_app().test_client().get("/async", headers=FRONTEND)
    assert only(events(), "async_view_event")["distinct_id"] == "web_user_1"
