"""Storage that fails or lies: full, read-only, vanished or hostile (symlinked) folders; corrupt,
torn, blank, wrong-typed or replaced files; a tiny ``max_disk_bytes``."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from loopback_sink import LoopbackSink

from posthog_client._delivery.disk_queue import DiskQueue
from posthog_client._delivery.queue import Counters

from .conftest import API_KEY, MakeApp, dead_owner, encoded, messages, queue_dir


def sent_uuids(sink: LoopbackSink) -> list[str]:
    return [e["uuid"] for e in sink.events]


# -- the identity file ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        {"session_start_ms": "abc"},
        {"session_id": 5},
        {"session_last_ms": None, "identified": "yes"},
        {"super_properties": [1, 2]},
        {"person_processing": "true", "alias": 7, "person_props_hash": []},
    ],
    ids=["start-text", "session-int", "several", "supers-list", "flags"],
)
def test_a_wrong_typed_state_field_is_repaired_with_one_warning(
    make_app: MakeApp, sink: LoopbackSink, logs: pytest.LogCaptureFixture, damage: dict[str, object]
) -> None:
    first = make_app()
    device = first.get_device_id()
    first.capture("before", distinct_id="u")
    first.shutdown(5)
    state_file = first.options.project_dir / "state.json"
    state = json.loads(state_file.read_text())
    state.update(damage)
    state_file.write_text(json.dumps(state))
    logs.clear()
    for run in range(2):  # and every later run too
        app = make_app()
        assert app.capture("after", {"run": run}) is not None
        assert app.get_device_id() == device  # the identity itself is kept
        assert app.flush(5).pending == 0
        app.shutdown(5)
    assert [e["event"] for e in sink.events] == ["before", "after", "after"]
    warnings = [m for m in messages(logs, logging.WARNING) if "state.json" in m]
    assert len(warnings) == 1, warnings
    assert not messages(logs, logging.ERROR)


@pytest.mark.parametrize("replacement", ["directory", "symlink", "garbage", "huge"])
def test_a_replaced_state_file_loses_no_event(
    make_app: MakeApp, sink: LoopbackSink, tmp_path: Path, logs: pytest.LogCaptureFixture,
    replacement: str,
) -> None:  # fmt: skip
    project = make_app().options.project_dir
    project.mkdir(parents=True)
    state_file = project / "state.json"
    victim = tmp_path / "victim.json"
    victim.write_text('{"distinct_id": "someone-else", "anon_id": "x", "device_id": "y"}')
    if replacement == "directory":
        state_file.mkdir()
    elif replacement == "symlink":
        state_file.symlink_to(victim)
    elif replacement == "garbage":
        state_file.write_bytes(b"\xff\xfe not json")
    else:
        state_file.write_bytes(b"[" * 5_000_000)
    for _ in range(2):
        app = make_app()
        assert app.capture("first") is not None
        assert app.get_distinct_id() != "someone-else"
        assert app.flush(5).pending == 0
        app.shutdown(5)
    assert [e["event"] for e in sink.events] == ["first", "first"]
    assert victim.read_text().startswith('{"distinct_id": "someone-else"')
    assert not messages(logs, logging.ERROR)


# -- the queue folder -----------------------------------------------------------------------


_FULL_DISK_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from posthog_client import Client
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # every write to a file fails: disk full
    app = Client("phc_fault_suite_key", host=sys.argv[1], storage_dir=sys.argv[2],
                 flush_at=1000, flush_interval_s=60)
    ids = [app.capture("e", {"i": i}) for i in range(20)]
    result = app.flush(10)
    print(json.dumps({"queued": sum(i is not None for i in ids), "pending": result.pending}))
    app.shutdown(1)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_disk_full_from_the_start_keeps_events_in_memory_and_delivers_them(
    sink: LoopbackSink, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_CHILD, sink.url, str(tmp_path / "storage")],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout) == {"queued": 20, "pending": 0}, done.stderr
    assert len(sink.events) == 20


def test_the_queue_returns_to_disk_when_it_can(
    make_app: MakeApp, sink: LoopbackSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    app.capture("warm-up", distinct_id="u")
    queue = app._delivery._queue  # type: ignore[union-attr]
    disk = queue._disk
    real_append = disk._append
    failing = True

    def append(fd: int, data: bytes) -> int:
        if failing:
            raise OSError(28, "No space left on device")
        return real_append(fd, data)

    monkeypatch.setattr(disk, "_append", append)
    spilled = [app.capture("spilled", {"i": i}, distinct_id="u") for i in range(5)]
    assert all(spilled) and queue._memory.pending() == 5
    failing = False
    monkeypatch.setattr(queue, "_retry_at", 0.0)  # the retry interval is over
    app.capture("back", distinct_id="u")
    queue.maintain()
    assert queue._memory.pending() == 0  # moved back to disk: they outlive the process now
    assert app.flush(5).pending == 0
    assert sorted(e["event"] for e in sink.events) == ["back", *["spilled"] * 5, "warm-up"]


def test_the_queue_folder_deleted_while_running_is_recreated(
    make_app: MakeApp, sink: LoopbackSink
) -> None:
    app = make_app(max_disk_bytes=64 * 1024)  # 4 KiB segments: several rotations below
    app.capture("before", distinct_id="u")
    assert app.flush(5).pending == 0
    shutil.rmtree(queue_dir(app))  # a cleanup tool
    after = [app.capture("after", {"pad": "x" * 300, "i": i}, distinct_id="u") for i in range(60)]
    assert all(after)
    assert app.flush(5).pending == 0
    assert sorted(sent_uuids(sink)[1:]) == sorted(after)  # nothing lost, nothing twice
    assert queue_dir(app).is_dir()


def test_a_folder_deleted_after_a_failed_write_is_recreated_too(
    make_app: MakeApp, sink: LoopbackSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    app.capture("before", distinct_id="u")
    queue = app._delivery._queue  # type: ignore[union-attr]
    real_append = queue._disk._append

    def full_once(fd: int, data: bytes) -> int:
        monkeypatch.setattr(queue._disk, "_append", real_append)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(queue._disk, "_append", full_once)
    app.capture("spilled", distinct_id="u")  # the disk refuses it: kept in memory
    shutil.rmtree(queue_dir(app))
    monkeypatch.setattr(queue, "_retry_at", 0.0)
    assert app.flush(5).pending == 0
    assert app.capture("after", distinct_id="u")
    assert app.flush(5).pending == 0
    assert queue_dir(app).is_dir() and queue._memory.pending() == 0
    assert sorted(e["event"] for e in sink.events) == ["after", "spilled"]  # "before" was deleted


@pytest.mark.parametrize("damage", [b"{not json at all", b"", b"   ", b"\xff\xfe{}", b'{"event":'])
def test_a_damaged_line_is_skipped_and_counted_and_its_neighbours_are_delivered(
    make_app: MakeApp, sink: LoopbackSink, damage: bytes
) -> None:
    lines = [encoded(i) for i in range(49)]
    lines.insert(20, damage)
    app = make_app()
    dead_owner(queue_dir(app), lines)
    assert app.flush(5).pending == 0
    assert len(sink.events) == 49
    assert app.stats()["dropped_corrupt"] == 1


@pytest.mark.parametrize(
    "progress",
    [b"garbage", b"-5 -7\n", b"\xff" * 64, b""],
    ids=["garbage", "negative", "binary", "empty"],
)
def test_a_damaged_progress_file_loses_nothing(
    make_app: MakeApp, sink: LoopbackSink, progress: bytes
) -> None:
    app = make_app()
    owner = dead_owner(queue_dir(app), [encoded(i) for i in range(12)])
    (queue_dir(app) / f"{owner}.pos").write_bytes(progress)  # read as "nothing sent yet"
    assert app.flush(5).pending == 0
    assert sorted(e["properties"]["i"] for e in sink.events) == list(range(12))


def test_a_torn_last_line_is_skipped(make_app: MakeApp, sink: LoopbackSink) -> None:
    app = make_app()
    owner = dead_owner(queue_dir(app), [encoded(i) for i in range(10)])
    with open(queue_dir(app) / f"{owner}.00000000.seg", "ab") as segment:
        segment.write(b'{"event":"torn","distinct_')  # the crash came mid-write
    assert app.flush(5).pending == 0
    assert len(sink.events) == 10


def test_a_folder_named_like_a_lock_file_does_not_stop_adoption(
    make_app: MakeApp, sink: LoopbackSink
) -> None:
    app = make_app()
    directory = queue_dir(app)
    (directory / "0000000000000000-1-stray.lock").mkdir(parents=True)
    (directory / "0000000000000000-1-stray.lock" / "inside").write_text("x")
    (directory / "junk.pos").mkdir()
    dead_owner(directory, [encoded(i) for i in range(7)])
    for _ in range(2):  # every sweep, not just the first
        assert app.flush(5).pending == 0
    assert len(sink.events) == 7


def test_a_small_max_disk_bytes_drops_the_oldest_events_never_the_newest(
    make_app: MakeApp, sink: LoopbackSink
) -> None:
    app = make_app(max_disk_bytes=10_000)
    sent = [app.capture("e", {"i": i, "pad": "x" * 200}, distinct_id="u") for i in range(200)]
    assert all(sent)
    assert app.flush(10).pending == 0
    delivered = [e["properties"]["i"] for e in sink.events]
    assert delivered, "nothing delivered"
    assert delivered == list(range(200 - len(delivered), 200))  # the newest, in order
    stats = app.stats()
    assert stats["dropped_disk_full"] == 200 - len(delivered)


def test_trimming_a_queue_over_budget_keeps_the_newest_events(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path, 10_000, Counters())
    for i in range(45):  # ~14 kB: over the budget, under the hard limit that spills to memory
        queue.put(encoded(i, name="x" * 200))
    queue.maintain()  # housekeeping finds the queue over max_disk_bytes
    kept: list[int] = []
    while (batch := queue.next_batch(100, 1 << 20)) is not None:
        kept += [json.loads(line)["properties"]["i"] for line in batch.events]
        queue.ack(batch, len(batch.events))
    queue.close()
    assert kept and kept == list(range(45 - len(kept), 45))
    assert sum(len(encoded(i, name="x" * 200)) + 1 for i in kept) <= 10_000


def test_flush_in_a_new_process_delivers_every_event_earlier_runs_left(
    make_app: MakeApp, sink: LoopbackSink
) -> None:
    probe = make_app()
    dead_owner(queue_dir(probe), [encoded(i) for i in range(3000)])
    dead_owner(queue_dir(probe), [encoded(i) for i in range(3000, 3100)], owner=f"{2:016x}-7-a")
    app = make_app()  # no capture in this process
    result = app.flush(10)
    assert (result.sent, result.pending) == (3100, 0)
    assert sorted(e["properties"]["i"] for e in sink.events) == list(range(3100))


# -- hostile storage --------------------------------------------------------------------------


def test_a_symlink_planted_at_a_progress_file_is_never_written_through(
    make_app: MakeApp, sink: LoopbackSink, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    app = make_app()
    owner = dead_owner(queue_dir(app), [encoded(i) for i in range(5)])
    (queue_dir(app) / f"{owner}.pos").symlink_to(victim)
    segment_link = queue_dir(app) / f"{owner}.00000001.seg"
    segment_link.symlink_to(victim)
    assert app.flush(5).pending == 0
    assert victim.read_bytes() == b"precious"
    assert len(sink.events) == 5


def test_storage_folders_are_0700_and_every_file_0600(make_app: MakeApp) -> None:
    app = make_app()
    app.capture("e")
    app.identify("user-1")
    app.flush(5)
    root = app.options.storage_dir
    assert root is not None
    checked = 0
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
        checked += 1
    assert checked >= 6 and list(root.rglob("*.lock"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_storage_dir_keeps_events_in_memory(
    make_app: MakeApp, sink: LoopbackSink, tmp_path: Path
) -> None:  # pragma: no cover - CI runs as root
    (tmp_path / "storage").mkdir(mode=0o500)
    app = make_app()
    assert app.capture("e") is not None
    assert app.flush(5).pending == 0
    assert len(sink.events) == 1


def test_api_key_never_appears_in_a_path(make_app: MakeApp) -> None:
    app = make_app()
    app.capture("e")
    root = app.options.storage_dir
    assert root is not None
    assert all(API_KEY not in str(p) for p in root.rglob("*"))
