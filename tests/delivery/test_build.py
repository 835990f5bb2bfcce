"""build_delivery's choices, and the guarantees that need real processes: kill -9, concurrent
processes on one storage dir, fork, and exit with a hung or missing server."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from delivery_child import uuid_for
from delivery_support import CHILD, ScriptedBackend, event, options, run_child
from loopback_sink import Blackhole, LoopbackSink

from posthog_client._delivery.build import build_delivery
from posthog_client._delivery.capture_v1 import CaptureV1Backend
from posthog_client._delivery.disk_queue import DiskQueue
from posthog_client._delivery.http import HttpBackend, HttpTransport
from posthog_client._delivery.memory_queue import MemoryQueue
from posthog_client._delivery.spilling_queue import SpillingQueue
from posthog_client._delivery.worker import Pipeline


@pytest.fixture
def sink() -> Iterator[LoopbackSink]:
    with LoopbackSink() as running:
        yield running


def delivered(sink: LoopbackSink) -> Counter[str]:
    return Counter(e["uuid"] for e in sink.events)


def test_persisted_mode_queues_on_disk_in_the_project_folder(tmp_path: Path) -> None:
    delivery = build_delivery(options(tmp_path))
    assert isinstance(delivery, Pipeline)
    assert isinstance(delivery._queue, SpillingQueue)
    assert isinstance(delivery._queue._disk, DiskQueue)
    assert isinstance(delivery._backend, HttpBackend)
    assert delivery._backend.url == "http://127.0.0.1:9/batch/"
    assert delivery._threaded
    delivery.submit(event())
    assert list((options(tmp_path).project_dir / "queue").glob("*.seg"))
    delivery.purge()
    delivery.shutdown(0)


@pytest.mark.parametrize(
    ("choices", "path", "encoding"),
    [
        ({}, "/batch/", "gzip"),
        ({"gzip": False}, "/batch/", None),
        ({"capture_api": "v1"}, "/i/v1/analytics/events", "gzip"),
        ({"capture_api": "v1", "compression": "deflate"}, "/i/v1/analytics/events", "deflate"),
        (
            {"capture_api": "v1", "gzip": False, "compression": "deflate"},
            "/i/v1/analytics/events",
            None,
        ),
    ],
)
def test_capture_api_and_compression_choose_the_transport(
    tmp_path: Path, choices: dict[str, object], path: str, encoding: str | None
) -> None:
    delivery = build_delivery(options(tmp_path, persist=False, **choices))
    assert isinstance(delivery, Pipeline)
    backend = delivery._backend
    expected = CaptureV1Backend if choices.get("capture_api") == "v1" else HttpBackend
    assert type(backend) is expected and isinstance(backend, HttpTransport)
    assert (backend.url, backend._encoding) == ("http://127.0.0.1:9" + path, encoding)
    delivery.shutdown(0)


def test_memory_mode_sync_mode_and_a_custom_backend(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    delivery = build_delivery(options(tmp_path, persist=False, sync_mode=True, backend=backend))
    assert isinstance(delivery, Pipeline)
    assert isinstance(delivery._queue, MemoryQueue)
    assert delivery._backend is backend and not delivery._threaded
    assert not (tmp_path / "queue").exists()
    delivery.shutdown(0)


def test_an_unusable_storage_folder_falls_back_to_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("not a folder")
    backend = ScriptedBackend()
    with caplog.at_level(logging.WARNING, "posthog_client"):
        delivery = build_delivery(options(tmp_path / "file", backend=backend))
        assert isinstance(delivery, Pipeline) and isinstance(delivery._queue, SpillingQueue)
        assert delivery._queue._disk is None
        assert delivery.submit(event(1))
    assert "disk queue unavailable" in caplog.text
    assert delivery.flush(5).pending == 0
    assert [e["properties"]["i"] for e in backend.events] == [1]
    delivery.shutdown(0)


def test_opt_out_purge_empties_the_disk_queue(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    delivery = build_delivery(options(tmp_path, backend=backend, flush_interval_s=60))
    for i in range(10):
        delivery.submit(event(i))
    assert delivery.purge() == 10
    assert not list((options(tmp_path).project_dir / "queue").glob("*.seg"))
    delivery.shutdown(1)
    assert backend.delivered == []


@pytest.mark.slow
def test_kill_9_then_restart_delivers_every_event_exactly_once(
    tmp_path: Path, sink: LoopbackSink
) -> None:
    ready = tmp_path / "ready"
    args = ["submit", str(tmp_path), sink.url, "1", "1000", "--acked", "400", "--hold", str(ready)]
    child = subprocess.Popen([sys.executable, str(CHILD), *args])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():  # a subprocess: nothing to await but its file
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert len(sink.events) == 400  # acknowledged before the kill; 600 only on disk
    run_child("submit", str(tmp_path), sink.url, "2", "10")  # the next run
    got = delivered(sink)
    expected = {uuid_for(1, i) for i in range(1000)} | {uuid_for(2, i) for i in range(10)}
    assert set(got) == expected
    assert max(got.values()) == 1
    order = [e["uuid"] for e in sink.events]
    assert order.index(uuid_for(1, 999)) < order.index(uuid_for(2, 0))  # earlier run first


@pytest.mark.slow
def test_two_processes_on_one_storage_dir_send_every_event_once(
    tmp_path: Path, sink: LoopbackSink
) -> None:
    args = ["submit", str(tmp_path), sink.url]
    children = [
        subprocess.Popen(
            [sys.executable, str(CHILD), *args, str(seed), "5000"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    reports = [json.loads(child.communicate(timeout=60)[0]) for child in children]
    assert [child.returncode for child in children] == [0, 0]
    got = delivered(sink)
    assert len(got) == 10_000 and max(got.values()) == 1
    assert [(report["sent"], report["pending"]) for report in reports] == [(5000, 0)] * 2
    assert list(tmp_path.glob("*/queue/*.seg")) == []


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_sends_its_own_events_and_nothing_twice(
    tmp_path: Path, sink: LoopbackSink
) -> None:
    report = json.loads(run_child("fork", str(tmp_path), sink.url, "10", "200").stdout)
    assert report["child_status"] == 0
    assert report["sent"] == 200
    got = delivered(sink)
    expected = {uuid_for(10, i) for i in range(200)} | {uuid_for(11, i) for i in range(200)}
    assert set(got) == expected and max(got.values()) == 1


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # nobody listens: refused


def exit_time(tmp_path: Path, url: str) -> float:
    started = time.monotonic()
    run_child("exit", str(tmp_path), url, "3", "50", timeout=30)
    return time.monotonic() - started


@pytest.mark.slow
def test_exit_with_a_hung_server_stays_within_the_budget(
    tmp_path: Path, sink: LoopbackSink
) -> None:
    baseline = exit_time(tmp_path / "server-down", closed_port_url())
    sink.hang()
    assert exit_time(tmp_path, sink.url) < baseline + 1.0 + 0.5  # atexit budget: 1.0 s
    sink.release()
    run_child("submit", str(tmp_path), sink.url, "4", "1")  # nothing was lost on disk
    assert {uuid_for(3, i) for i in range(50)} <= set(delivered(sink))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="the blackhole needs Linux's SYN drops")
def test_exit_with_packets_dropped_is_quick(tmp_path: Path) -> None:
    with Blackhole() as hole:  # before: the probe waited timeout_s, exit the whole 1 s budget
        assert exit_time(tmp_path, hole.url) < 0.9
    assert sum(p.stat().st_size for p in tmp_path.glob("*/queue/*.seg")) > 0  # kept on disk


@pytest.mark.slow
def test_exit_with_the_server_down_is_quick(tmp_path: Path) -> None:
    assert exit_time(tmp_path, closed_port_url()) < 1.0  # no retry waits at exit
    assert sum(p.stat().st_size for p in tmp_path.glob("*/queue/*.seg")) > 0  # kept on disk
