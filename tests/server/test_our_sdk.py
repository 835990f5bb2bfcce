"""This SDK over real HTTP against the reference server: persons resolve as PostHog's would,
through either capture API (v0 ``/batch/``, v1 ``/i/v1/analytics/events``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from posthog_client import Client
from posthog_client._config import CaptureApi
from posthog_client.server import LocalServer


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(api_key="phc_ours") as running:
        yield running


@pytest.fixture(params=["v0", "v1"])
def capture_api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_anonymous_history_joins_the_user_and_the_alias(
    server: LocalServer, tmp_path: Path, capture_api: CaptureApi
) -> None:
    with Client("phc_ours", host=server.url, storage_dir=tmp_path, capture_api=capture_api) as app:
        anonymous = app.get_distinct_id()
        app.capture("$pageview", {"$current_url": "https://example.com/"})
        app.identify("user_42", {"email": "a@b.c"}, set_once={"signup": "2026"})
        app.alias("backend-42")
        app.capture("invoice_paid", distinct_id="backend-42")
        assert app.flush(10).pending == 0
    person = server.engine.person("backend-42")
    assert person is not None
    assert set(person.distinct_ids) == {anonymous, "user_42", "backend-42"}
    assert person.is_identified
    assert person.properties["email"] == "a@b.c"
    assert person.properties["signup"] == "2026"
    assert {e.event for e in server.engine.events(anonymous)} == {
        "$pageview", "$identify", "$create_alias", "invoice_paid",
    }  # fmt: skip
    assert server.engine.warnings() == []


def test_reset_starts_a_new_person_on_the_same_device(
    server: LocalServer, tmp_path: Path, capture_api: CaptureApi
) -> None:
    with Client("phc_ours", host=server.url, storage_dir=tmp_path, capture_api=capture_api) as app:
        app.identify("alice")
        app.reset()
        app.capture("$pageview")
        app.identify("bob")
        device = app.get_device_id()
        app.flush(10)
    alice, bob = server.engine.person("alice"), server.engine.person("bob")
    assert alice is not None and bob is not None
    assert alice.uuid != bob.uuid
    assert {e.properties["$device_id"] for e in server.engine.events("bob")} == {device}


def test_gzip_and_plain_bodies_are_both_accepted(server: LocalServer, tmp_path: Path) -> None:
    for index, gzip in enumerate((True, False)):
        with Client(
            "phc_ours", host=server.url, storage_dir=tmp_path / str(index), gzip=gzip
        ) as app:
            for n in range(30):
                app.capture("bulk", {"n": n, "padding": "x" * 100})
            assert app.flush(10).pending == 0
    assert server.engine.count_events() == 60
