"""Processes that fork or die: fork while another thread holds a module lock or is importing the
HTTP stack (``gunicorn --preload``), fork under load, ``kill -9`` in the middle of a request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from loopback_sink import LoopbackSink

from posthog_client import Client, _log
from posthog_client._events import uuid7 as _uuid7

from .conftest import API_KEY, MakeApp, transport_options

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")


def wait_child(pid: int, timeout: float = 10.0) -> int:
    """The child's exit code; kills it and fails if it is still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung (deadlock)")


def fork() -> int:
    with warnings.catch_warnings():  # 3.12+ warns about forking a threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


@pytest.mark.parametrize(
    ("module", "name", "use"),
    [
        (_uuid7, "_lock", _uuid7.uuid7),
        (_log, "_warned_lock", lambda: _log.warn_once("fork-test", "x")),
    ],
    ids=["uuid7", "warn_once"],
)
def test_fork_while_another_thread_holds_a_module_lock_does_not_deadlock_the_child(
    module: object, name: str, use: Callable[[], object]
) -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with getattr(module, name):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    try:
        pid = fork()
        if pid == 0:  # pragma: no cover - the child
            use()
            os._exit(0)
    finally:
        release.set()
        holder.join(5)
    assert wait_child(pid) == 0


_PRELOAD = textwrap.dedent(
    """
    import importlib.abc, os, sys, threading, time, warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    importing = threading.Event()

    class SlowImport(importlib.abc.MetaPathFinder):  # the worker is mid-import at the fork
        def find_spec(self, name, path, target=None):
            if name == "requests" and threading.current_thread().name != "MainThread":
                importing.set()
                time.sleep(0.5)
            return None

    sys.meta_path.insert(0, SlowImport())
    from posthog_client import Client
    app = Client("phc_fault_suite_key", host=sys.argv[1], storage_dir=sys.argv[2],
                 flush_at=1, flush_interval_s=60, capture_api=sys.argv[3])
    app.capture("master", distinct_id="m")  # starts the worker, which imports requests
    assert importing.wait(5)
    pid = os.fork()  # gunicorn --preload forks its workers now
    if pid == 0:
        app.capture("worker", distinct_id="w")
        os._exit(0 if app.flush(5).pending == 0 else 1)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), app.flush(5).pending)
    """
)


@pytest.mark.parametrize("capture_api", ["v0", "v1"])
def test_fork_while_the_worker_imports_the_http_stack_leaves_the_child_able_to_send(
    sink: LoopbackSink, tmp_path: Path, capture_api: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PRELOAD, sink.url, str(tmp_path), capture_api],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout.split() == ["0", "0"], done.stderr
    assert sorted(e["event"] for e in sink.events) == ["master", "worker"]


@pytest.mark.parametrize("capture_api", ["v0", "v1"])
def test_fork_under_load_loses_nothing_and_sends_nothing_twice(
    make_app: MakeApp, sink: LoopbackSink, capture_api: str
) -> None:
    app = make_app(flush_at=5, flush_interval_s=0.05, capture_api=capture_api)
    stop = threading.Event()
    sent: list[str] = []

    def load() -> None:
        while not stop.is_set():
            sent.append(app.capture("load", distinct_id="parent") or "refused")

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    children = []
    try:
        for i in range(4):
            time.sleep(0.02)
            pid = fork()
            if pid == 0:  # pragma: no cover - the child: its own events, its own worker
                ids = [app.capture("child", {"n": i}, distinct_id="child") for _ in range(10)]
                ok = all(ids) and app.flush(5).pending == 0
                os._exit(0 if ok else 1)
            children.append(pid)
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
    assert [wait_child(pid) for pid in children] == [0] * 4
    assert app.flush(10).pending == 0
    counts = Counter(e["uuid"] for e in sink.events)
    assert "refused" not in sent
    assert set(sent) <= set(counts)  # every parent event arrived
    assert max(counts.values()) == 1  # and nothing twice
    assert sum(e["event"] == "child" for e in sink.events) == 40


_KILLED_MID_REQUEST = textwrap.dedent(
    """
    import json, sys, uuid
    from pathlib import Path
    from posthog_client import Client
    app = Client("phc_fault_suite_key", host=sys.argv[1], storage_dir=sys.argv[2],
                 flush_at=10_000, flush_interval_s=60, max_batch_size=50,
                 **json.loads(sys.argv[4]))
    for i in range(200):
        app.capture("e", {"i": i}, distinct_id="u", uuid=str(uuid.UUID(int=i + 1)))
    Path(sys.argv[3]).write_text("queued")
    app.flush(60)  # the first request hangs; killed meanwhile
    """
)


def test_kill_9_during_a_request_resends_at_most_the_batch_in_flight(
    sink: LoopbackSink, tmp_path: Path, transport: str
) -> None:
    storage, ready = tmp_path / "storage", tmp_path / "ready"
    options = transport_options(transport)
    sink.hang()
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_MID_REQUEST, sink.url, str(storage), str(ready),
         json.dumps(options)]
    )  # fmt: skip
    try:
        assert sink.arrived.wait(20)
    finally:
        child.kill()
        child.wait(10)
    sink.release()  # the held request completes: PostHog ingested that batch
    with Client(API_KEY, host=sink.url, storage_dir=storage, **options) as next_run:
        assert next_run.flush(10).pending == 0
    counts = Counter(e["uuid"] for e in sink.events)
    expected = {str(uuid.UUID(int=i + 1)) for i in range(200)}
    assert set(counts) == expected  # nothing lost
    duplicated = sum(n - 1 for n in counts.values())
    assert duplicated <= 50  # at most the batch that was in flight, with the same uuids
    print(json.dumps({"lost": 0, "duplicated": duplicated}))
