"""The test double: ``Recorder``, ``recording()`` and the ``POSTHOG_CLIENT_BACKEND`` switch."""

from __future__ import annotations

import gc
import json
import os
import sys
import unittest
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import posthog_client
from posthog_client import _default, testing
from posthog_client._config import Options
from posthog_client.testing import MemoryBackend, Recorder, process_recorder, recording

API_KEY = "phc_test_key"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make(recorder: Recorder, storage_dir: Path) -> Iterator[Callable[..., posthog_client.Client]]:
    """Clients feeding ``recorder``; ``name`` gives each its own storage (another install)."""
    clients: list[posthog_client.Client] = []

    def build(name: str = "app", **options: object) -> posthog_client.Client:
        options.setdefault("strict", True)
        client = posthog_client.Client(
            API_KEY, backend=recorder, storage_dir=storage_dir / name, **options
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.shutdown(0)


@pytest.fixture
def fresh_process_recorder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(testing, "_process", None)


def test_queries_flush_threaded_clients_first(
    recorder: Recorder, make: Callable[..., posthog_client.Client]
) -> None:
    client = make()  # a background worker delivers; the recorder must flush it, never sleep
    client.capture("file_opened", {"size_kb": 12})
    client.capture("file_saved", {"size_kb": 30})
    client.capture("file_opened", {"size_kb": 99}, distinct_id="user_9")

    assert [e["event"] for e in recorder.events()] == ["file_opened", "file_saved", "file_opened"]
    assert len(recorder.events("file_opened")) == 2
    assert [e["distinct_id"] for e in recorder.events(distinct_id="user_9")] == ["user_9"]
    assert len(recorder.events(properties={"size_kb": 30})) == 1


def test_person_holds_the_anonymous_and_aliased_history(
    recorder: Recorder, make: Callable[..., posthog_client.Client]
) -> None:
    client = make()
    anonymous_id = client.get_distinct_id()
    client.capture("app_started")
    client.identify("user_42", {"email": "a@b.c"})
    client.alias("backend-42")
    client.capture("file_opened")

    person = recorder.person("backend-42")
    assert set(person.distinct_ids) == {anonymous_id, "user_42", "backend-42"}
    assert person.is_identified and person.properties["email"] == "a@b.c"
    names = [e["event"] for e in person.events]
    assert names == ["app_started", "$identify", "$create_alias", "file_opened"]
    assert recorder.person(anonymous_id) == person
    assert len(recorder.events(person="user_42")) == 4
    assert recorder.assert_identified("user_42", anonymous_id=anonymous_id) == person


def test_person_of_an_unknown_id_fails_listing_what_was_captured(
    recorder: Recorder, make: Callable[..., posthog_client.Client]
) -> None:
    make().capture("app_started")
    with pytest.raises(AssertionError, match="no event used distinct id 'ghost'") as failure:
        recorder.person("ghost")
    assert "1. 'app_started'" in str(failure.value)


def test_assert_captured_returns_the_match(
    recorder: Recorder, make: Callable[..., posthog_client.Client]
) -> None:
    client = make()
    client.capture("signed_up", {"plan": "free"})
    client.capture("signed_up", {"plan": "pro", "seats": 3})
    event = recorder.assert_captured("signed_up", properties={"plan": "pro"})
    assert event["properties"]["seats"] == 3
    recorder.assert_captured("signed_up", person=client.get_distinct_id())


def test_assert_captured_failure_lists_the_captured_events(
    recorder: Recorder, make: Callable[..., posthog_client.Client]
) -> None:
    client = make()
    client.capture("signed_up", {"plan": "free"})
    client.identify("user_42")
    with pytest.raises(AssertionError) as failure:
        recorder.assert_captured(
            "signed_up", distinct_id="user_42", properties={"plan": "pro", "$lib": "x"}
        )
    message = str(failure.value)
    assert message.startswith(
        "no event 'signed_up' (distinct_id='user_42', properties including "
        "{'plan': 'pro', '$lib': 'x'}) was captured."
    )
    assert "Captured events (2):" in message
    # the app's own properties, plus the SDK ones the assertion asked about, nothing else
    anonymous_id = client.get_device_id()
    line = f"1. 'signed_up' distinct_id='{anonymous_id}' {{'$lib': 'posthog-client-python', "
    assert line + "'plan': 'free'}" in message
    assert "$session_id" not in message
    assert "identified=True" in message


def test_assert_captured_with_nothing_captured(recorder: Recorder) -> None:
    with pytest.raises(AssertionError, match=r"no event 'x' was captured.\nNothing was captured"):
        recorder.assert_captured("x")


def test_long_listings_are_cut(
    recorder: Recorder, make: Callable[..., posthog_client.Client]
) -> None:
    client = make()
    for number in range(35):
        client.capture("tick", {"n": number})
    with pytest.raises(AssertionError, match="… and 5 more"):
        recorder.assert_captured("tock")


def test_assert_not_captured(
    recorder: Recorder, make: Callable[..., posthog_client.Client]
) -> None:
    client = make()
    client.capture("file_opened", {"path": "a.txt"})
    recorder.assert_not_captured("file_deleted")
    recorder.assert_not_captured("file_opened", properties={"path": "b.txt"})
    with pytest.raises(AssertionError) as failure:
        recorder.assert_not_captured("file_opened")
    assert str(failure.value).startswith("expected no event 'file_opened', but 1 captured:\n")
    assert "{'path': 'a.txt'}" in str(failure.value)


def test_assert_identified_failures(
    recorder: Recorder, make: Callable[..., posthog_client.Client]
) -> None:
    first, second = make("first"), make("second")
    first.capture("app_started")
    with pytest.raises(AssertionError, match="is not identified"):
        recorder.assert_identified(first.get_distinct_id())
    with pytest.raises(AssertionError, match="no event used distinct id 'user_a'"):
        recorder.assert_identified("user_a")

    first.identify("user_a")
    second_anonymous = second.get_distinct_id()
    second.identify("user_b")
    second.alias("user_a")  # both identified: PostHog refuses the merge with a warning
    with pytest.raises(AssertionError) as failure:
        recorder.assert_identified("user_a", anonymous_id=second_anonymous)
    message = str(failure.value)
    assert f"does not own '{second_anonymous}', which belongs to another person" in message
    assert "cannot_merge_already_identified" in message
    assert [w.type for w in recorder.warnings()] == ["cannot_merge_already_identified"]
    with pytest.raises(AssertionError, match="which no event used"):
        recorder.assert_identified("user_a", anonymous_id="nobody")


def test_clear_forgets_events_and_persons(
    recorder: Recorder, make: Callable[..., posthog_client.Client]
) -> None:
    client = make()
    client.identify("user_42")
    recorder.clear()
    assert recorder.events() == []
    client.capture("after")
    assert recorder.person("user_42").events[0]["event"] == "after"


def test_a_batch_posthog_would_refuse_is_rejected_and_not_recorded(recorder: Recorder) -> None:
    good = json.dumps({"event": "ok", "distinct_id": "a", "uuid": "0190a000-0000-7000-8000-0"})
    bad = json.dumps({"event": "x", "distinct_id": " "}).encode()
    with pytest.raises(posthog_client.RejectedError) as failure:
        recorder.send([good.encode(), bad])
    assert failure.value.status_code == 400
    assert recorder.events() == []


def test_a_redelivered_event_is_recorded_once(recorder: Recorder) -> None:
    event = {"event": "ok", "distinct_id": "a", "uuid": "01900000-0000-7000-8000-000000000001"}
    recorder.send([json.dumps(event).encode()])
    recorder.send([json.dumps(event).encode()])
    assert len(recorder.events()) == 1
    recorder.close()  # a client's shutdown closes its backend; the recorder keeps serving
    assert len(recorder.events("ok")) == 1


def test_clients_are_tracked_weakly(recorder: Recorder, storage_dir: Path) -> None:
    client = posthog_client.Client(API_KEY, backend=recorder, storage_dir=storage_dir)
    client.capture("x")
    assert len(recorder.events()) == 1
    client.shutdown(0)
    del client
    gc.collect()
    assert recorder._feeding_clients() == []


def test_memory_backend_still_works() -> None:
    backend = MemoryBackend()
    backend.send([b'{"event": "a"}'])
    assert backend.events == [{"event": "a"}] and backend.batch_count == 1
    backend.clear()
    backend.close()
    assert backend.events == [] and backend.closed


# -- recording() ---------------------------------------------------------------------------------


def test_recording_installs_and_restores(
    tmp_path: Path, storage_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = posthog_client.init(API_KEY, backend=MemoryBackend(), storage_dir=storage_dir)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("POSTHOG_CLIENT_DIR", str(tmp_path / "app-dir"))
    before = dict(os.environ)

    with recording() as recorder:
        assert posthog_client.get_client() is None
        assert os.environ["POSTHOG_CLIENT_BACKEND"] == "memory"
        assert "DO_NOT_TRACK" not in os.environ
        assert process_recorder() is recorder
        client = posthog_client.init()  # POSTHOG_API_KEY defaults to a test key
        created = posthog_client.Client(persist=True)
        posthog_client.capture("from_global")
        created.capture("from_app_client")
        assert {e["event"] for e in recorder.events()} == {"from_global", "from_app_client"}
        temporary = Path(os.environ["POSTHOG_CLIENT_DIR"])
        assert client.options.project_dir.parent == temporary and any(temporary.iterdir())

    assert posthog_client.get_client() is previous
    assert dict(os.environ) == before
    assert process_recorder() is not recorder
    assert not temporary.exists()
    assert not (tmp_path / "app-dir").exists() and not (tmp_path / "xdg-data").exists()
    assert created.capture("late") is None  # shut down with the recording


def test_recording_is_strict_by_default(storage_dir: Path) -> None:
    with recording(storage_dir=storage_dir):
        posthog_client.init()
        with pytest.raises(posthog_client.InvalidDistinctIdError):
            posthog_client.identify("null")
        with pytest.raises(posthog_client.InvalidEventError):
            posthog_client.capture("x", {"handle": object()})
    with recording(strict=False, storage_dir=storage_dir) as recorder:
        posthog_client.init()
        assert posthog_client.identify("null") is False
        recorder.assert_not_captured("$identify")
    assert any(storage_dir.iterdir())  # the given dir is used, and kept


def _enter_context(test: unittest.TestCase) -> Recorder:
    return test.enterContext(recording())  # type: ignore[attr-defined,no-any-return]


def _enter_and_clean_up(test: unittest.TestCase) -> Recorder:
    context = recording()  # the README's form for Python 3.10, which has no enterContext
    recorder = context.__enter__()
    test.addCleanup(context.__exit__, None, None, None)
    return recorder


@pytest.mark.parametrize(
    "enter",
    [
        pytest.param(
            _enter_context,
            marks=pytest.mark.skipif(sys.version_info < (3, 11), reason="enterContext is 3.11+"),
        ),
        _enter_and_clean_up,
    ],
)
def test_recording_from_unittest(enter: Callable[[unittest.TestCase], Recorder]) -> None:
    class AppTest(unittest.TestCase):
        def setUp(self) -> None:
            self.recorder = enter(self)
            posthog_client.init()

        def test_pass(self) -> None:
            posthog_client.capture("file_opened")
            posthog_client.identify("user_42")
            self.recorder.assert_captured("file_opened", person="user_42")

        def test_fail(self) -> None:
            posthog_client.capture("file_opened")
            self.recorder.assert_captured("file_closed")

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(AppTest).run(result)
    assert result.testsRun == 2 and not result.errors
    [(test, traceback)] = result.failures
    assert test.id().endswith("test_fail")
    assert "no event 'file_closed' was captured" in traceback
    assert "1. 'file_opened'" in traceback
    assert _default.client is None


# -- POSTHOG_CLIENT_BACKEND ----------------------------------------------------------------------


@pytest.mark.usefixtures("fresh_process_recorder")
def test_env_switch_records_every_client_in_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("POSTHOG_CLIENT_BACKEND", "memory")
    with posthog_client.Client(API_KEY) as client:
        assert client.options.backend is process_recorder()
        assert client.options.strict and not client.options.persist  # nothing on disk
        client.capture("ci_event")
        process_recorder().assert_captured("ci_event")
        with pytest.raises(posthog_client.InvalidDistinctIdError):
            client.identify("undefined")
    assert not (tmp_path / "xdg-data").exists() and not (tmp_path / "home").exists()


@pytest.mark.usefixtures("fresh_process_recorder")
def test_env_switch_options_still_win(monkeypatch: pytest.MonkeyPatch, storage_dir: Path) -> None:
    monkeypatch.setenv("POSTHOG_CLIENT_BACKEND", " Memory ")
    assert not Options.resolve(API_KEY, strict=False).strict
    backend = MemoryBackend()
    assert Options.resolve(API_KEY, backend=backend).backend is backend
    assert Options.resolve(API_KEY, storage_dir=storage_dir).persist  # a dir was given: use it
    monkeypatch.setenv("POSTHOG_CLIENT_DIR", str(storage_dir))
    assert Options.resolve(API_KEY).persist
    monkeypatch.setenv("POSTHOG_CLIENT_STRICT", "0")
    assert not Options.resolve(API_KEY).strict


def test_env_switch_with_an_unknown_backend_warns_and_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Never raised (someone else's environment must not crash the app), and never sent to the
    # real host either: the developer asked for a test backend.
    monkeypatch.setenv("POSTHOG_CLIENT_BACKEND", "memroy")
    options = Options.resolve(API_KEY)
    assert options.disabled and options.backend is None
    assert "'memroy' is not a backend (expected 'memory' or unset)" in caplog.text


def test_strict_env_and_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")  # CI alone changes nothing
    options = Options.resolve(API_KEY)
    assert options.backend is None and not options.strict and options.persist
    monkeypatch.setenv("POSTHOG_CLIENT_STRICT", "1")
    assert Options.resolve(API_KEY).strict
    assert not Options.resolve(API_KEY, strict=False).strict


def test_successive_runs_in_one_recording_share_the_anonymous_id() -> None:
    with recording() as recorder:
        posthog_client.init()  # like a first CLI run
        posthog_client.capture("file_opened")
        posthog_client.init()  # a second run: same storage, same anonymous id
        posthog_client.identify("user_42")
        recorder.assert_captured("file_opened", person="user_42")
        assert len(recorder.assert_identified("user_42").distinct_ids) == 2
