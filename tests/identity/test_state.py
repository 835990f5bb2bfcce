"""The persisted identity: files, atomicity, sharing between processes, failure modes."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from posthog_client import Client
from posthog_client._identity.state import IdentityState, StateStore

MakeClient = Callable[..., Client]
Sent = Callable[[Client], list[dict[str, Any]]]


def project_dir(storage_dir: Path) -> Path:
    (project,) = storage_dir.iterdir()
    return project


def test_project_folder_is_named_by_a_hash_of_the_key(client: Client, storage_dir: Path) -> None:
    client.get_distinct_id()
    folder = project_dir(storage_dir)
    assert "phc_test_key" not in folder.name
    assert len(folder.name) == 16


def test_state_file_is_private(client: Client, storage_dir: Path) -> None:
    client.get_distinct_id()
    mode = stat.S_IMODE(os.stat(project_dir(storage_dir) / "state.json").st_mode)
    assert mode == 0o600


def test_storage_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTHOG_CLIENT_DIR", str(tmp_path / "from-env"))
    with Client("phc_env", backend=_NullBackend()) as client:
        client.get_distinct_id()
    assert (tmp_path / "from-env").is_dir()


def test_default_storage_is_the_platform_user_data_dir(tmp_path: Path) -> None:
    # conftest points XDG_DATA_HOME into tmp_path
    with Client("phc_default", backend=_NullBackend()) as client:
        client.get_distinct_id()
    assert (tmp_path / "xdg-data" / "posthog_client").is_dir()


def test_memory_mode_writes_nothing(make_client: MakeClient, storage_dir: Path, sent: Sent) -> None:
    client = make_client(persist=False)
    client.identify("user_1")
    client.capture("x")
    assert len(sent(client)) == 2
    assert not storage_dir.exists()


def test_writes_are_atomic_replacements(client: Client, storage_dir: Path) -> None:
    client.get_distinct_id()
    folder = project_dir(storage_dir)
    with open(folder / "state.json", "rb") as old:  # held open: its inode cannot be reused
        client.identify("user_1")
        assert os.stat(folder / "state.json").st_ino != os.fstat(old.fileno()).st_ino
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("garbage", [b"{not json", b"[]", b'{"distinct_id": 3}', b"\xff\xfe"])
def test_corrupt_state_file_warns_once_and_starts_fresh(
    make_client: MakeClient, storage_dir: Path, caplog: pytest.LogCaptureFixture, garbage: bytes
) -> None:
    make_client().get_distinct_id()
    folder = project_dir(storage_dir)
    (folder / "state.json").write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        client = make_client()
        new_id = client.get_distinct_id()
        client.capture("still works")
    assert new_id
    assert len([r for r in caplog.records if "is unusable" in r.getMessage()]) == 1
    assert [p.name for p in folder.iterdir() if "corrupt" in p.name]
    assert json.loads((folder / "state.json").read_text())["distinct_id"] == new_id


def test_unwritable_storage_falls_back_to_memory(
    make_client: MakeClient, tmp_path: Path, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the storage dir should be")
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        client = make_client(storage_dir=blocker / "sub")
        anonymous = client.get_distinct_id()
        client.identify("user_1")
        client.capture("x")
    assert anonymous and client.get_distinct_id() == "user_1"
    assert [e["event"] for e in sent(client)] == ["$identify", "x"]
    assert len([r for r in caplog.records if "identity in memory" in r.getMessage()]) == 1


def test_read_only_state_keeps_the_stored_identity_in_memory(
    make_client: MakeClient,
    storage_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_client().identify("user_1")

    def read_only(path: Path, data: bytes) -> None:
        raise PermissionError(30, "Read-only file system", str(path))

    monkeypatch.setattr("posthog_client._identity.state.write_atomically", read_only)
    monkeypatch.setattr(
        "filelock.FileLock.acquire",
        lambda *a, **k: (_ for _ in ()).throw(PermissionError(30, "Read-only file system")),
    )
    client = make_client()
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        assert client.get_distinct_id() == "user_1"
        client.register({"a": 1})
        client.reset()
    assert client.get_distinct_id() != "user_1"
    assert "keeping the identity in memory" in caplog.text


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_directory_with_real_permissions(
    make_client: MakeClient, storage_dir: Path
) -> None:
    make_client().identify("user_1")
    folder = project_dir(storage_dir)
    folder.chmod(0o500)
    try:
        client = make_client()
        assert client.get_distinct_id() == "user_1"
        client.reset()
        assert client.get_distinct_id() != "user_1"
    finally:
        folder.chmod(0o700)


def test_identity_state_round_trips() -> None:
    state = IdentityState.fresh()
    assert IdentityState.from_json(json.loads(json.dumps(state.to_json()))) == (state, [])


def test_refresh_picks_up_another_process_change(tmp_path: Path) -> None:
    ours, theirs = StateStore(tmp_path), StateStore(tmp_path)
    first = ours.current()
    theirs.transact(lambda s: (IdentityState(s.distinct_id + "x", s.anon_id, s.device_id), None))
    ours.refresh()
    assert ours.current().distinct_id == first.distinct_id + "x"


_PROCESS = textwrap.dedent(
    """
    import json, sys
    from posthog_client import Client
    from posthog_client.testing import MemoryBackend
    backend = MemoryBackend()
    client = Client("phc_test_key", storage_dir=sys.argv[1], backend=backend)
    if sys.argv[2] == "identify":
        client.identify("user_42", {"plan": "pro"})
    if sys.argv[2] == "wait":
        sys.stdin.readline()  # start together: every process is ready before any reads
    result = {"distinct_id": client.get_distinct_id(), "identified": client.is_identified(),
              "session": client.get_session_id()}
    client.identify("user_42", {"plan": "pro"}) if sys.argv[2] == "repeat" else None
    client.flush(5)
    result["events"] = [e["event"] for e in backend.events]
    print(json.dumps(result))
    client.shutdown(0)
    """
)


def _run(storage_dir: Path, mode: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PROCESS, str(storage_dir), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_processes_started_together_agree_on_the_anonymous_id(storage_dir: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS, str(storage_dir), "wait"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [json.loads(p.communicate("go\n", timeout=60)[0]) for p in procs]
    assert len({o["distinct_id"] for o in outputs}) == 1
    assert len({o["session"] for o in outputs}) == 1


def test_identify_in_one_process_is_seen_by_the_next(storage_dir: Path) -> None:
    first = _run(storage_dir, "identify")
    assert first["events"] == ["$identify"]
    second = _run(storage_dir, "repeat")
    assert second["distinct_id"] == "user_42"
    assert second["identified"] is True
    assert second["session"] == first["session"]  # A6: a CLI run within 30 min continues it
    assert second["events"] == []  # identify once per session, across processes


class _NullBackend:
    def send(self, batch: Any) -> None:
        pass

    def close(self) -> None:
        pass
