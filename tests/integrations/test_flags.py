"""Per-request flags in real Flask and FastAPI apps: each request's user (the frontend's id or
the app's login) gets its own flags, and its groups, through the integrations' contexts."""

from __future__ import annotations

import pytest

pytest.importorskip("flask")
pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import warnings
from collections.abc import Iterator

from fastapi import FastAPI
from flask import Flask, request

import posthog_client
from posthog_client.integrations.asgi import PostHogMiddleware
from posthog_client.integrations.flask import PostHog
from posthog_client.testing import Recorder

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

DEFINITIONS = {
    "flags": [
        {"id": 1, "key": "new-checkout", "active": True,
         "filters": {"groups": [{"properties": [
             {"key": "distinct_id", "value": ["web_user_1", "logged_in_7"], "operator": "exact"}],
             "rollout_percentage": 100}]}},
        {"id": 2, "key": "b2b", "active": True,
         "filters": {"aggregation_group_type_index": 0,
                     "groups": [{"properties": [], "rollout_percentage": 100}]}},
    ],
    "group_type_mapping": {"0": "company"},
}  # fmt: skip


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    recorder.set_flags(DEFINITIONS)
    posthog_client.init("phc_test", mode="server", backend=recorder)
    yield recorder


def checkout() -> str:
    """What a request handler does: gate a feature on the request's user's flag."""
    company = request.headers.get("X-Company")
    if company:
        posthog_client.group("company", company)
    new = posthog_client.feature_enabled("new-checkout")
    b2b = posthog_client.feature_enabled("b2b")
    return f"{'new' if new else 'old'} checkout{' for companies' if b2b else ''}"


def test_flask_requests_get_their_users_flags(recorder: Recorder) -> None:
    app = Flask(__name__)
    PostHog(app, user_id=lambda r: r.headers.get("X-User"))
    app.get("/checkout")(checkout)
    web = app.test_client()
    assert (
        web.get("/checkout", headers={"X-POSTHOG-DISTINCT-ID": "web_user_1"}).text == "new checkout"
    )
    assert web.get("/checkout", headers={"X-User": "logged_in_7"}).text == "new checkout"
    assert web.get("/checkout", headers={"X-User": "other"}).text == "old checkout"
    acme = {"X-User": "other", "X-Company": "acme"}
    assert web.get("/checkout", headers=acme).text == "old checkout for companies"
    assert web.get("/checkout").text == "old checkout"  # no user: flags unknown, nothing asked
    recorder.assert_flag_called("new-checkout", distinct_id="web_user_1", value=True)
    recorder.assert_flag_called("new-checkout", distinct_id="other", value=False)
    called = recorder.assert_flag_called("b2b", distinct_id="other", value=True)
    assert called["properties"]["$groups"] == {"company": "acme"}


def test_fastapi_requests_get_their_users_flags(recorder: Recorder) -> None:
    app = FastAPI()
    app.add_middleware(PostHogMiddleware)

    @app.get("/checkout")
    def fastapi_checkout(x_company: str | None = None) -> str:  # sync: runs in a thread
        if x_company:
            posthog_client.group("company", x_company)
        new = posthog_client.get_feature_flag("new-checkout")
        b2b = posthog_client.feature_enabled("b2b")
        return f"{'new' if new else 'old'}{' b2b' if b2b else ''}"

    with TestClient(app) as web:
        first = web.get("/checkout", headers={"X-POSTHOG-DISTINCT-ID": "web_user_1"})
        second = web.get("/checkout?x_company=acme", headers={"X-POSTHOG-DISTINCT-ID": "web_2"})
    assert (first.json(), second.json()) == ("new", "old b2b")
    recorder.assert_flag_called("new-checkout", distinct_id="web_user_1", value=True)
    recorder.assert_flag_called("new-checkout", distinct_id="web_2", value=False)
