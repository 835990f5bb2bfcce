"""A desktop app's own flags: loaded in the background at first use, cached on disk beside the
identity, read from memory, reported once per flag, value and session."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from posthog_client import Client, RetryableTransportError
from posthog_client._flagclient import app

from .conftest import FlagsBackend, an_earlier_run, v2

MakeClient = Callable[..., Client]
Sent = Callable[[Client], list[dict[str, Any]]]


def flag_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("posthog_client.flag")]


def called(events: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [
        (e["properties"]["$feature_flag"], e["properties"]["$feature_flag_response"])
        for e in events
        if e["event"] == "$feature_flag_called"
    ]


def test_init_and_plain_captures_never_ask_for_flags(
    make_client: MakeClient, backend: FlagsBackend, sent: Sent
) -> None:
    client = make_client()
    client.capture("opened")
    client.identify("alice", {"plan": "pro"})
    client.reset()
    events = sent(client)
    assert backend.bodies == [] and not flag_threads()
    assert not any(k.startswith("$feature") for e in events for k in e["properties"])


def test_the_first_read_answers_at_once_and_the_flags_load_in_the_background(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    backend.answer = v2({"beta": True, "exp": "test", "off": False})
    client = make_client()
    assert client.get_feature_flag("beta") is None  # nothing cached yet: unknown, no waiting
    assert client.wait_for_flags(5)
    assert client.get_feature_flag("beta") is True
    assert client.get_feature_flag("exp") == "test" and client.feature_enabled("exp") is True
    assert client.feature_enabled("off") is False and client.get_feature_flag("nope") is None
    assert client.get_all_flags() == {"beta": True, "exp": "test", "off": False}
    (body,) = backend.bodies
    state = client._store.current()
    assert body["token"] == "phc_test_key" and body["distinct_id"] == state.distinct_id
    assert body["$anon_distinct_id"] == state.anon_id and body["$device_id"] == state.device_id
    assert body["groups"] == {} and body["group_properties"] == {}
    assert body["geoip_disable"] is False and body["evaluation_runtime"] == "client"
    assert body["person_properties"]["$lib"] == "posthog-client-python"  # D9
    assert "$os" in body["person_properties"]


def test_another_process_starts_with_the_cached_flags_and_asks_for_none(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    an_earlier_run(make_client, backend, beta=True)
    second = make_client()
    assert second.feature_enabled("beta") is True  # from disk, before any request
    second.shutdown(5)  # would let a load under way finish
    assert len(backend.bodies) == 1


def test_an_offline_start_serves_the_last_known_flags(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    backend.answer = v2({"beta": "blue"})
    first = make_client(flags_refresh_interval_s=0.001)
    first.get_feature_flag("beta")
    assert first.wait_for_flags(5)
    first.shutdown(0)
    backend.error = RetryableTransportError("offline")
    second = make_client(flags_refresh_interval_s=0.001)  # the cache is stale: it tries again
    assert second.get_feature_flag("beta") == "blue"
    assert not second.wait_for_flags(5)
    assert second.get_feature_flag("beta") == "blue"


def test_identify_reloads_with_the_anonymous_id_and_the_person_properties(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    client = make_client()
    client.feature_enabled("beta")
    assert client.wait_for_flags(5)
    anonymous = client.get_distinct_id()
    client.identify("alice", {"plan": "pro"}, set_once={"first": "2024"})
    assert client.wait_for_flags(5)
    body = backend.bodies[-1]
    assert body["distinct_id"] == "alice" and body["$anon_distinct_id"] == anonymous
    assert body["person_properties"]["plan"] == "pro"
    assert body["person_properties"]["first"] == "2024"
    client.set_person_properties({"plan": "team"})
    client.unset_person_properties(["first"])
    assert client.wait_for_flags(5)
    assert backend.bodies[-1]["person_properties"]["plan"] == "team"
    assert "first" not in backend.bodies[-1]["person_properties"]


def test_reset_drops_the_users_flags_at_once_and_loads_the_new_anonymous_ones(
    make_client: MakeClient, backend: FlagsBackend, storage_dir: Path
) -> None:
    backend.answer = v2({"beta": True})
    client = make_client()
    client.identify("alice", {"plan": "pro"})
    client.feature_enabled("beta")
    assert client.wait_for_flags(5)
    backend.answer = v2({})
    client.reset()
    assert client.get_feature_flag("beta") is None
    assert client.wait_for_flags(5)
    body = backend.bodies[-1]
    assert body["distinct_id"] == client.get_distinct_id() != "alice"
    assert "plan" not in body["person_properties"]


def test_reset_in_a_process_that_reads_no_flag_still_deletes_the_cache(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    an_earlier_run(make_client, backend, beta=True)
    make_client().reset()  # e.g. a `logout` command
    assert make_client().get_feature_flag("beta", send_event=False) is None


def test_flag_called_is_sent_once_per_flag_and_value_per_session(
    make_client: MakeClient, backend: FlagsBackend, sent: Sent
) -> None:
    backend.answer = v2({"beta": True})
    client = make_client()
    client.wait_for_flags(5)
    for _ in range(3):
        client.feature_enabled("beta")
    other = make_client()  # another process of the app, same session
    other.feature_enabled("beta")
    backend.answer = v2({"beta": False})
    client.reload_feature_flags()
    assert client.wait_for_flags(5)
    client.feature_enabled("beta")
    client.feature_enabled("beta", send_event=False)
    client.get_feature_flag_payload("beta")
    client.get_all_flags()
    other.flush(5)
    assert called(sent(client)) == [("beta", True), ("beta", False)]
    event = next(e for e in backend.events if e["event"] == "$feature_flag_called")
    assert event["properties"]["$feature_flag_request_id"] == "req-1"
    assert event["properties"]["$feature_flag_reason"] == "Matched condition set 1"


def test_a_new_session_reports_the_flag_again(
    make_client: MakeClient, backend: FlagsBackend, sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.answer = v2({"beta": True})
    client = make_client(session_idle_timeout_s=60, flags_refresh_interval_s=0)
    client.wait_for_flags(5)
    client.feature_enabled("beta")
    real = app.time.time
    monkeypatch.setattr(app.time, "time", lambda: real() + 3600)
    client.feature_enabled("beta")
    assert called(sent(client)) == [("beta", True), ("beta", True)]


def test_once_flags_are_used_every_event_carries_them(
    make_client: MakeClient, backend: FlagsBackend, sent: Sent
) -> None:
    backend.answer = v2({"beta": True, "exp": "test", "off": False})
    client = make_client()
    client.capture("before")
    client.wait_for_flags(5)
    client.capture("after", {"$feature/beta": "mine"})
    before, after = (e for e in sent(client) if e["event"] in ("before", "after"))
    assert not any(k.startswith("$feature") for k in before["properties"])
    assert after["properties"]["$feature/exp"] == "test"
    assert after["properties"]["$feature/off"] is False
    assert after["properties"]["$feature/beta"] == "mine"  # the caller's own value wins
    assert after["properties"]["$active_feature_flags"] == ["beta", "exp"]


def test_payloads_are_decoded_and_only_for_enabled_flags(
    make_client: MakeClient, backend: FlagsBackend, sent: Sent
) -> None:
    backend.answer = v2({"cfg": True, "off": False}, payload_cfg='{"color": "red"}')
    client = make_client()
    client.wait_for_flags(5)
    assert client.get_feature_flag_payload("cfg") == {"color": "red"}
    assert client.get_feature_flag_payload("off") is None
    assert called(sent(client)) == []


def test_overrides_win_and_events_report_the_real_value(
    make_client: MakeClient, backend: FlagsBackend, sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTHOG_CLIENT_FLAGS", "env-flag,beta=false")
    backend.answer = v2({"beta": True})
    client = make_client()
    client.wait_for_flags(5)
    assert client.get_all_flags() == {"beta": False, "env-flag": True}
    client.override_feature_flags({"beta": "forced"}, payloads={"beta": {"x": 1}})
    assert client.get_feature_flag("beta") == "forced"
    assert client.get_feature_flag_payload("beta") == {"x": 1}
    (event,) = [e for e in sent(client) if e["event"] == "$feature_flag_called"]
    assert event["properties"]["$feature_flag_original_response"] is True
    client.override_feature_flags(None)
    assert client.get_feature_flag("beta", send_event=False) is True


def test_listeners_hear_of_each_load_and_override(
    make_client: MakeClient, backend: FlagsBackend, caplog: pytest.LogCaptureFixture
) -> None:
    backend.answer = v2({"beta": True})
    client = make_client()
    heard: list[tuple[dict[str, Any], bool]] = []

    def broken(flags: dict[str, Any], errors: bool) -> None:
        raise ValueError("listener bug")

    client.on_feature_flags(broken)
    stop = client.on_feature_flags(lambda flags, errors: heard.append((flags, errors)))
    assert client.wait_for_flags(5)
    client.override_feature_flags(["extra"])
    stop()
    client.override_feature_flags(None)
    late: list[dict[str, Any]] = []
    client.on_feature_flags(lambda flags, errors: late.append(flags))  # known: called at once
    assert heard == [({"beta": True}, False), ({"beta": True, "extra": True}, False)]
    assert late == [{"beta": True}]
    assert "listener bug" in caplog.text or "callback raised" in caplog.text


def test_a_failed_load_tells_listeners_and_keeps_the_flags(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    backend.answer = v2({"beta": True})
    client = make_client()
    client.wait_for_flags(5)
    heard: list[bool] = []
    client.on_feature_flags(lambda flags, errors: heard.append(errors))
    backend.error = RetryableTransportError("down")
    client.reload_feature_flags()
    client.wait_for_flags(5)
    assert heard[-1] is True and client.get_feature_flag("beta") is True


def test_quota_limited_and_partial_answers_keep_what_was_known(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    backend.answer = v2({"a": True, "b": "x"})
    client = make_client()
    client.wait_for_flags(5)
    backend.answer = {"flags": {}, "quotaLimited": ["feature_flags"]}
    client.reload_feature_flags()
    assert client.wait_for_flags(5)
    assert client.get_all_flags() == {"a": True, "b": "x"}
    partial = v2({"a": False}, errorsWhileComputingFlags=True)
    partial["flags"]["b"] = {"key": "b", "enabled": False, "failed": True}
    backend.answer = partial
    client.reload_feature_flags()
    assert client.wait_for_flags(5)
    assert client.get_all_flags() == {"a": False, "b": "x"}


def test_an_opted_out_user_sends_no_flag_request(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    client = make_client()
    client.opt_out()
    assert client.get_feature_flag("beta") is None
    assert not client.wait_for_flags(5)
    assert backend.bodies == []


def test_a_failed_automatic_load_waits_before_trying_again(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    backend.error = RetryableTransportError("down")
    client = make_client()
    assert not client.wait_for_flags(5)
    for _ in range(5):
        client.get_feature_flag("beta", send_event=False)
    client.shutdown(5)  # a load under way would finish here
    assert len(backend.bodies) == 1


def test_reading_an_apps_flags_never_loads_the_evaluation_engine(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, posthog_client\n"
        "from posthog_client.testing import MemoryBackend\n"
        f"c = posthog_client.Client('k', backend=MemoryBackend(), storage_dir={str(tmp_path)!r})\n"
        "c.feature_enabled('x'); c.wait_for_flags(5); c.capture('e', send_feature_flags=True)\n"
        "c.shutdown(5)\n"
        "print(sorted(m for m in sys.modules if m.startswith('posthog_client._flags')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork()")
def test_a_forked_child_loads_and_reads_flags_on_its_own(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    import os

    backend.answer = v2({"beta": True})
    client = make_client()
    assert client.wait_for_flags(5)
    gate = threading.Event()
    holder = threading.Thread(
        target=lambda: (client._flags().app_flags()._lock.acquire(), gate.wait(5))
    )
    holder.start()  # a parent thread holds a flag lock while the process forks
    pid = os.fork()
    if pid == 0:  # the child: must neither deadlock nor wait for the parent's threads
        ok = client.get_feature_flag("beta") is True
        client.reload_feature_flags()
        ok = ok and client.wait_for_flags(5) and client.get_feature_flag("beta") is True
        os._exit(0 if ok else 1)
    gate.set()
    holder.join(5)
    client._flags().app_flags()._lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
