"""``Telemetry``: the off switches in their order, the first-run notice, CI, debug printing,
the user's choice, and an exit that never waits on the network."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from posthog_client import ConfigurationError
from posthog_client._delivery.inspect import queued_events
from posthog_client.server import LocalServer
from posthog_client.telemetry import Telemetry
from posthog_client.testing import MemoryBackend

from .conftest import MakeTelemetry


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def sent_names(telemetry: Telemetry, backend: MemoryBackend) -> list[str]:
    telemetry.shutdown(5)
    return [e["event"] for e in backend.events]


# -- the first-run notice -----------------------------------------------------------------------


def test_the_run_that_shows_the_notice_sends_nothing_and_the_next_one_sends(
    make_telemetry: MakeTelemetry, backend: MemoryBackend, notices: list[str], tmp_path: Path
) -> None:
    first = make_telemetry(notice="We count commands.", notice_version="2026-11-30")
    assert first.capture("build") is None and first.capture("again") is None
    assert notices == ["We count commands."]
    assert files_under(tmp_path / "mytool-telemetry") == ["notice.json"]  # no id, no queue
    assert sent_names(first, backend) == []
    second = make_telemetry(notice="We count commands.", notice_version="2026-11-30")
    uuid = second.capture("build")
    assert uuid is not None and notices == ["We count commands."]  # shown once
    assert sent_names(second, backend) == ["build"]
    assert backend.events[0]["properties"]["$app_name"] == "mytool"


def test_a_new_notice_version_is_shown_again_and_that_run_sends_nothing(
    make_telemetry: MakeTelemetry, backend: MemoryBackend, notices: list[str]
) -> None:
    make_telemetry(notice_version="2026-01-01").start()
    second = make_telemetry(notice_version="2026-01-01")
    assert second.capture("a") is not None
    second.shutdown(0)  # the process ends offline, as it were: "a" waits on disk
    changed = make_telemetry(notice_version="2026-11-30")
    assert changed.capture("b") is None and len(notices) == 2
    last = make_telemetry(notice_version="2026-11-30")
    assert last.capture("c") is not None
    assert sent_names(last, backend) == ["a", "c"]


def test_the_default_notice_names_the_off_switches(
    make_telemetry: MakeTelemetry, notices: list[str]
) -> None:
    make_telemetry().start()
    (text,) = notices
    assert "mytool telemetry disable" in text and "MYTOOL_TELEMETRY_DISABLED=1" in text
    assert "DO_NOT_TRACK=1" in text and "nothing has been sent yet" in text


def test_without_a_terminal_nothing_is_shown_and_the_apps_default_applies(
    make_telemetry: MakeTelemetry, backend: MemoryBackend, tmp_path: Path
) -> None:
    # pytest's stdin is not a terminal: no notice can be read, so none is shown
    on = make_telemetry(show_notice=None)
    assert on.capture("counted") is not None
    assert "notice.json" not in files_under(tmp_path / "mytool-telemetry")  # still to be shown
    off = make_telemetry(show_notice=None, enabled_by_default=False, data_dir=tmp_path / "b")
    assert off.capture("not counted") is None
    assert off.status().consent.blocked_by == "default"
    assert not (tmp_path / "b").exists()
    assert sent_names(on, backend) == ["counted"]


# -- off switches, strongest first --------------------------------------------------------------


@pytest.mark.parametrize("variable", ["DO_NOT_TRACK", "MYTOOL_TELEMETRY_DISABLED"])
def test_an_environment_switch_sends_writes_and_shows_nothing(
    make_telemetry: MakeTelemetry,
    notices: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    make_telemetry(notice_version="v1").start()
    make_telemetry(notice_version="v1").enable()  # even the user's own opt-in loses
    before = files_under(tmp_path)
    monkeypatch.setenv(variable, "1")
    telemetry = make_telemetry(notice_version="v2")  # a new notice would be due
    assert telemetry.capture("x") is None and not telemetry.identify("alice")
    status = telemetry.status()
    assert (status.consent.blocked_by, status.consent.variable) == ("environment", variable)
    assert telemetry.enable() is False
    assert len(notices) == 1 and files_under(tmp_path) == before


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_a_switch_set_to_a_false_value_is_off(
    make_telemetry: MakeTelemetry, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("DO_NOT_TRACK", value)
    assert make_telemetry().status().consent.blocked_by == "notice"


def test_the_apps_variable_can_be_named_by_the_app(
    make_telemetry: MakeTelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYTOOL_NO_ANALYTICS", "1")
    telemetry = make_telemetry(disable_variable="MYTOOL_NO_ANALYTICS")
    assert telemetry.status().consent.variable == "MYTOOL_NO_ANALYTICS"


def test_posthog_variables_of_the_user_do_not_steer_the_apps_telemetry(
    make_telemetry: MakeTelemetry, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTHOG_CLIENT_DISABLED", "1")
    monkeypatch.setenv("POSTHOG_HOST", "https://users-own.example")
    monkeypatch.setenv("POSTHOG_API_KEY", "phc_user")
    make_telemetry().start()
    telemetry = make_telemetry()
    assert telemetry.capture("x") is not None
    assert telemetry.client is not None and telemetry.client.options.api_key == "phc_tool"
    assert telemetry.client.options.host == "https://us.i.posthog.com"


def test_disable_stops_sending_deletes_the_id_and_queue_and_sends_no_goodbye(
    tmp_path: Path,
) -> None:
    with LocalServer() as server:
        gone = server.url
    folder = tmp_path / "t"
    options = {"api_key": "phc_local", "host": gone, "data_dir": folder, "show_notice": print}
    Telemetry("mytool", **options).start()  # the notice's run
    run = Telemetry("mytool", **options)
    run.capture("queued while offline")
    run.disable()
    assert run.capture("after") is None
    assert files_under(folder) == ["consent.json", "notice.json"]
    status = Telemetry("mytool", **options).status()
    assert status.consent.blocked_by == "user" and status.consent.changed_at
    assert status.anonymous_id is None
    with LocalServer() as server:  # nothing left to deliver, and nothing says "opted out"
        later = Telemetry("mytool", **{**options, "host": server.url})
        assert later.capture("x") is None
        assert server.engine.events() == []


def test_enable_after_disable_starts_a_new_anonymous_id(
    make_telemetry: MakeTelemetry, backend: MemoryBackend
) -> None:
    make_telemetry().start()
    first = make_telemetry()
    first.capture("a")
    old_id = first.status().anonymous_id
    first.disable()
    again = make_telemetry()
    assert again.enable() is True
    again.capture("b")
    assert again.status().anonymous_id not in (None, old_id)


def test_reset_with_telemetry_off_forgets_the_stored_id(
    make_telemetry: MakeTelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_telemetry().start()
    run = make_telemetry()
    run.identify("alice")
    run.shutdown()
    monkeypatch.setenv("MYTOOL_TELEMETRY_DISABLED", "1")
    make_telemetry().reset()  # logout while telemetry is off
    monkeypatch.delenv("MYTOOL_TELEMETRY_DISABLED")
    assert make_telemetry().status().distinct_id is None


# -- CI -------------------------------------------------------------------------------------------


def test_ci_runs_send_and_write_nothing_by_default(
    make_telemetry: MakeTelemetry,
    notices: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    telemetry = make_telemetry()
    assert telemetry.capture("x") is None and notices == []
    status = telemetry.status().consent
    assert (status.blocked_by, status.variable) == ("ci", "GITHUB_ACTIONS")
    assert not (tmp_path / "mytool-telemetry").exists()


def test_ci_can_count_every_run_under_one_shared_id(
    make_telemetry: MakeTelemetry,
    backend: MemoryBackend,
    notices: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "1")
    for _ in range(2):  # two CI runs
        run = make_telemetry(ci="shared")
        run.capture("tests_ran")
        assert run.identify("alice") is False  # CI is nobody in particular
        run.shutdown(5)
    assert [e["distinct_id"] for e in backend.events] == ["ci", "ci"]
    assert backend.events[0]["properties"]["ci_variable"] == "CI"
    assert notices == [] and not (tmp_path / "mytool-telemetry").exists()
    assert run.status().distinct_id == "ci"


# -- debug and exit -------------------------------------------------------------------------------


def test_the_debug_variable_prints_events_instead_of_sending(
    make_telemetry: MakeTelemetry,
    backend: MemoryBackend,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    make_telemetry().start()  # the notice's run
    monkeypatch.setenv("MYTOOL_TELEMETRY_DEBUG", "1")
    before = files_under(tmp_path)
    telemetry = make_telemetry()
    assert telemetry.capture("build", {"pages": 3}) is not None
    err = capsys.readouterr().err
    assert err.startswith('[mytool telemetry] {"event":"build"') and '"pages":3' in err
    assert sent_names(telemetry, backend) == [] and files_under(tmp_path) == before
    assert telemetry.status().debug


def test_debug_says_why_nothing_is_sent(
    make_telemetry: MakeTelemetry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MYTOOL_TELEMETRY_DEBUG", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    make_telemetry().capture("x")
    assert "[mytool telemetry] nothing is sent: DO_NOT_TRACK is set" in capsys.readouterr().err


def test_offline_the_exit_is_immediate_and_events_wait_on_disk(tmp_path: Path) -> None:
    with LocalServer() as server:
        gone = server.url
    options = {"api_key": "phc_local", "host": gone, "data_dir": tmp_path, "show_notice": print}
    Telemetry("mytool", **options).start()
    run = Telemetry("mytool", **options)
    run.capture("offline")
    started = time.monotonic()
    result = run.shutdown()
    assert time.monotonic() - started < 0.5 and result.pending == 1
    (project,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert queued_events(project / "queue") == 1


# -- the app's options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"app": "my/tool"}, "app must be a name like 'mytool'"),
        ({"app": ""}, "app must be"),
        ({"ci": "sometimes"}, "ci must be 'off' or 'shared'"),
        ({"notice_version": " "}, "notice_version must be a non-empty string"),
        ({"disable_variable": "MY-TOOL OFF"}, "disable_variable must be an environment variable"),
        ({"show_notice": "stderr"}, "show_notice must be a function"),
        ({"api_key": ""}, "api_key is required"),
        ({"host": "eu.i.posthog.com"}, "host must be a URL"),
        ({"shutdown_timeout_s": -1}, "shutdown_timeout_s must be"),
    ],
)
def test_a_mistake_in_the_apps_options_fails_at_start_up(
    options: dict[str, object], named: str
) -> None:
    arguments: dict[str, object] = {"app": "mytool", "api_key": "phc_tool", **options}
    with pytest.raises(ConfigurationError, match=named):
        Telemetry(**arguments)  # type: ignore[arg-type]


def test_the_default_folder_is_the_apps_own_never_the_sdks(tmp_path: Path) -> None:
    telemetry = Telemetry("my-tool", api_key="phc_tool")
    assert telemetry.data_dir == tmp_path / "xdg-data" / "my-tool" / "telemetry"  # conftest's
    assert telemetry.disable_variable == "MY_TOOL_TELEMETRY_DISABLED"
    assert telemetry.debug_variable == "MY_TOOL_TELEMETRY_DEBUG"


def test_capture_exceptions_turns_on_the_clients_autocapture(
    make_telemetry: MakeTelemetry,
) -> None:
    make_telemetry().start()
    telemetry = make_telemetry(capture_exceptions=True)
    assert telemetry.start() and telemetry.client is not None
    assert telemetry.client.options.enable_exception_autocapture
    assert os.environ.get("CI") is None


def test_a_logout_in_the_run_that_shows_a_new_notice_still_renews_the_id(
    make_telemetry: MakeTelemetry, backend: MemoryBackend
) -> None:
    make_telemetry(notice_version="v1").start()
    run = make_telemetry(notice_version="v1")
    run.identify("alice")
    run.capture("queued")
    run.shutdown(0)
    logout = make_telemetry(notice_version="v2")  # a new notice: this run sends nothing
    logout.reset()
    assert logout.client is None
    status = make_telemetry(notice_version="v2").status()
    assert status.distinct_id not in (None, "alice")  # not alice's any more, and kept on disk
    later = make_telemetry(notice_version="v2")
    later.capture("next user")
    assert sent_names(later, backend) == ["$identify", "queued", "next user"]
