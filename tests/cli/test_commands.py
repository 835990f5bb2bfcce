"""``posthog-client capture|identify|reset|flush``, driven as a shell script would, against the
local server: the persisted identity is shared across runs, events wait on disk when the
server is down, and errors read like a CLI's."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_client import cli
from posthog_client._cli.options import parse_property
from posthog_client.server import LocalServer

KEY = "phc_local"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(KEY) as running:
        yield running


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def project(host: str, storage: Path) -> list[str]:
    return ["--api-key", KEY, "--host", host, "--dir", str(storage)]


def test_capture_sends_as_the_persisted_identity_with_typed_properties(
    server: LocalServer, storage_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = project(server.url, storage_dir)
    code, out, _ = run(capsys, "capture", "backup_done", "-p", "host=db-1", "-p", "gb:=12.5",
                       "-p", "url=http://x/?a=b", *where)  # fmt: skip
    assert code == 0
    uuid = out.strip()
    assert run(capsys, "capture", "backup_done", *where)[0] == 0  # a second run of the script
    first, second = sorted(server.engine.events(), key=lambda e: e.timestamp)
    assert first.uuid == uuid
    assert first.properties["host"] == "db-1" and first.properties["gb"] == 12.5
    assert first.properties["url"] == "http://x/?a=b"
    assert first.distinct_id == second.distinct_id  # one identity on disk, across runs
    assert first.properties["$session_id"] == second.properties["$session_id"]


def test_identify_merges_the_scripts_history_and_reset_starts_over(
    server: LocalServer, storage_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = project(server.url, storage_dir)
    run(capsys, "capture", "installed", *where)
    code, out, _ = run(capsys, "identify", "alice", "-p", "plan=pro", *where)
    assert code == 0 and out.startswith("identified as alice; the history of ")
    run(capsys, "capture", "used", *where)
    person = server.engine.person("alice")
    assert person is not None and person.properties["plan"] == "pro"
    assert len(person.distinct_ids) == 2
    assert {e.event for e in server.engine.events("alice")} >= {"installed", "used", "$identify"}
    code, out, _ = run(capsys, "reset", *where)
    assert code == 0 and out.startswith("anonymous again, as ")
    new_id = out.split("as ")[1].strip()
    run(capsys, "capture", "after_logout", *where)
    assert server.engine.events(new_id)[0].event == "after_logout"
    assert server.engine.person(new_id) != server.engine.person("alice")


def test_with_the_server_down_events_wait_and_status_then_flush_tell_it(
    storage_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalServer(KEY) as gone:
        down = gone.url
    where = project(down, storage_dir)
    started = time.monotonic()
    code, out, err = run(capsys, "capture", "offline_event", *where)
    assert code == 0 and out.strip() and time.monotonic() - started < 3
    assert "1 event(s) wait in" in err
    code, out, _ = run(capsys, "status", "--dir", str(storage_dir), "--json")
    (state,) = json.loads(out)["projects"]
    assert state["queued_events"] == 1
    assert "Connection refused" in state["last_delivery_error"]["error"]
    code, out, err = run(capsys, "flush", "--timeout", "0.5", *where)
    assert (code, out.strip()) == (1, "sent 0, still queued 1, dropped 0")
    assert "last delivery error" in err
    with LocalServer(KEY) as server:
        code, out, _ = run(capsys, "flush", *project(server.url, storage_dir))
        assert (code, out.strip()) == (0, "sent 1, still queued 0, dropped 0")
        assert [e.event for e in server.engine.events()] == ["offline_event"]
    code, out, _ = run(capsys, "status", "--dir", str(storage_dir), "--json")
    (state,) = json.loads(out)["projects"]
    assert state["queued_events"] == 0 and state["last_delivery_error"] is None


def test_do_not_track_sends_and_writes_nothing_and_is_not_an_error(
    storage_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    code, out, err = run(capsys, "capture", "x", *project("http://127.0.0.1:9", storage_dir))
    assert (code, out) == (0, "")
    assert "nothing sent: DO_NOT_TRACK is set in the environment" in err
    assert not storage_dir.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["capture", "x"], "posthog-client: error: no project key: pass --api-key"),
        (["capture", "x", "--api-key", "k", "--host", "example.com"], "host must be a URL"),
        (["capture", "x", "-p", "novalue"], "'novalue' is not KEY=VALUE or KEY:=JSON"),
        (["capture", "x", "-p", "n:={oops"], "is not JSON"),
        (["flush", "--timeout", "-1"], "is not a number of seconds"),
        (["status", "--dir", "a", "--app", "b"], "not allowed with argument"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_a_message_and_no_traceback(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert message in err and "Traceback" not in err


def test_an_invalid_distinct_id_is_an_error_not_a_traceback(
    storage_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "identify", "null", *project("http://127.0.0.1:9", storage_dir))
    assert code == 1 and err.startswith("posthog-client: error: ") and "Traceback" not in err


@pytest.mark.slow
def test_python_dash_m_posthog_client_is_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "posthog_client", "--version"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.startswith("posthog-client ")


_NAMES = st.text(min_size=1).filter(lambda k: "=" not in k and not k.endswith(":"))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=10,
)


@given(key=_NAMES, value=st.text())
def test_key_equals_value_is_always_that_string(key: str, value: str) -> None:
    assert parse_property(f"{key}={value}") == (key, value)


@given(key=_NAMES, value=_JSON)
def test_key_colon_equals_json_is_that_value(key: str, value: object) -> None:
    assert parse_property(f"{key}:={json.dumps(value)}") == (key, value)
