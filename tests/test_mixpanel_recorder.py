"""The test double records Mixpanel-mode clients as Mixpanel receives them, and resolves their
users as the client's ID-merge model does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import posthog_client
from posthog_client import Client, ConfigurationError
from posthog_client.testing import Recorder, recording

TOKEN = "mp_recorder_token"


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def build(recorder: Recorder, name: str = "app", **options: object) -> Client:
        options.setdefault("mixpanel_token", TOKEN)
        client = Client(backend=recorder, storage_dir=tmp_path / name, strict=True, **options)
        made.append(client)
        return client

    yield build
    for client in made:
        client.shutdown(0)


def test_a_mixpanel_client_is_recorded_as_mixpanel_receives_it(
    make: Callable[..., Client],
) -> None:
    recorder = Recorder()
    app = make(recorder)
    anonymous = app.get_distinct_id()
    app.capture("Opened", {"plan": "free"})
    assert recorder.events(distinct_id=anonymous)[0]["properties"]["plan"] == "free"
    assert app.alias("sally") is False  # refused under Simplified: nothing recorded
    app.identify("sally", {"email": "s@example.com"})
    app.capture("Saved")
    recorder.assert_captured("Opened", person="sally")  # the device is linked (MI14)
    sally = recorder.assert_identified("sally", anonymous)
    assert sally.properties == {"email": "s@example.com"}
    assert [e["event"] for e in sally.events] == ["Opened", "$identify", "Identified", "Saved"]
    assert sally.events[-1]["properties"]["$user_id"] == "sally"  # Mixpanel's properties
    recorder.assert_not_captured("$create_alias")


def test_legacy_a_second_alias_is_refused_and_the_report_says_so(
    make: Callable[..., Client],
) -> None:
    recorder = Recorder()
    web, phone = (
        make(recorder, "web", mixpanel_id_merge="legacy"),
        make(recorder, "phone", mixpanel_id_merge="legacy"),
    )
    web.capture("Page Viewed")
    web.alias("sally")
    phone.capture("App Opened")
    phone.alias("sally")  # Mixpanel refuses it: errAliasAlreadyExists
    phone.identify("sally")  # the remedy
    phone.capture("Item Viewed")
    recorder.assert_captured("Item Viewed", person=web.get_distinct_id())
    recorder.assert_not_captured("App Opened", person="sally")  # orphaned (MI4)
    with pytest.raises(AssertionError, match="errAliasAlreadyExists"):
        recorder.assert_captured("never sent")


def test_one_recorder_resolves_one_mixpanel_project_and_model(
    make: Callable[..., Client],
) -> None:
    recorder = Recorder()
    make(recorder, "a", mixpanel_id_merge="original")
    make(recorder, "b", mixpanel_id_merge="original")  # the same project: fine
    with pytest.raises(ConfigurationError, match="Recorder of their own"):
        make(recorder, "c", mixpanel_id_merge="simplified")


def test_recording_catches_a_mixpanel_client_made_by_the_app() -> None:
    with recording() as recorder:
        posthog_client.init(mixpanel_token=TOKEN, mixpanel_id_merge="original")
        posthog_client.capture("Opened")
        posthog_client.identify("sally")
        person = recorder.person("sally")
        assert [e["event"] for e in person.events] == ["Opened", "$identify"]
        client = posthog_client.get_client()
        assert client is not None and client.options.backend is not recorder  # its feed


def test_the_pytest_fixture_records_mixpanel_clients(posthog_recorder: Recorder) -> None:
    posthog_client.init(mixpanel_token=TOKEN)
    posthog_client.capture("Opened")
    posthog_client.identify("sally")
    posthog_recorder.assert_captured("Opened", person="sally")


def test_clear_forgets_the_users_and_keeps_recording_the_same_clients(
    make: Callable[..., Client],
) -> None:
    recorder = Recorder()
    app = make(recorder)
    app.identify("sally")
    app.capture("Before")
    recorder.clear()
    assert recorder.events() == []
    app.capture("After")
    assert [e["event"] for e in recorder.person("sally").events] == ["After"]
