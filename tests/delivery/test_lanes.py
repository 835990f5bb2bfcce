"""Writer lanes: threads capturing at once each append to a stream of their own, and every event
is still read exactly once, in its thread's order, also after ``kill -9``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from delivery_support import event
from loopback_sink import LoopbackSink

from posthog_client import Client
from posthog_client._delivery.disk_queue import DiskQueue
from posthog_client._delivery.lanes import MAX_LANES
from posthog_client._delivery.queue import MAX_BATCH_BYTES, Counters
from posthog_client._events.encoding import SharedProperties

SHARED = SharedProperties({"$lib": "posthog-client-python", "$lib_version": "0.0"})


@pytest.fixture
def sink() -> Iterator[LoopbackSink]:
    with LoopbackSink() as running:
        yield running


def capture_in_threads(queue: DiskQueue, threads: int, each: int) -> None:
    start = threading.Barrier(threads)

    def write(t: int) -> None:
        start.wait(5)
        for i in range(each):
            assert queue.put(event(t * 10_000 + i), SHARED if i % 3 else None)

    workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)


def read_all(queue: DiskQueue) -> list[dict[str, object]]:
    seen = []
    while (batch := queue.next_batch(97, MAX_BATCH_BYTES)) is not None:
        seen += [json.loads(line) for line in batch.events]
        queue.ack(batch, len(batch.events))
    return seen


@pytest.mark.parametrize("threads", [4, MAX_LANES + 8], ids=["a lane each", "shared lanes"])
def test_every_event_of_every_thread_is_read_once_in_its_threads_order(
    tmp_path: Path, threads: int
) -> None:
    queue = DiskQueue(tmp_path, 10**8, Counters())
    capture_in_threads(queue, threads, 200)
    assert len(queue._lane_list) == min(threads + 1, MAX_LANES)  # (+1: the queue's creator)
    assert queue.pending() == threads * 200
    events = read_all(queue)
    per_thread: defaultdict[int, list[int]] = defaultdict(list)
    for e in events:
        i = e["properties"]["i"]  # type: ignore[index]
        per_thread[i // 10_000].append(i % 10_000)
        assert ("$lib" in e["properties"]) == bool(i % 10_000 % 3)  # type: ignore[operator]
    assert dict(per_thread) == {t: list(range(200)) for t in range(threads)}
    assert queue.pending() == 0
    queue.close()


def test_lanes_are_owners_a_next_process_adopts(tmp_path: Path) -> None:
    first = DiskQueue(tmp_path, 10**8, Counters())
    capture_in_threads(first, 3, 50)
    first.close()  # each lane's stream stays on disk, its lock released
    assert len(list(tmp_path.glob("*.lock"))) == 3  # (the creator's lane had nothing left)
    second = DiskQueue(tmp_path, 10**8, Counters())
    second.maintain(rescan=True)
    assert second.pending() == 150
    assert len(read_all(second)) == 150
    second.close()


_KILLED_WHILE_THREADS_CAPTURE = textwrap.dedent(
    """
    import os, signal, sys, threading
    from posthog_client import Client
    app = Client("phc_lanes", host=sys.argv[1], storage_dir=sys.argv[2],
                 flush_at=10_000, flush_interval_s=60)
    def work(t):
        for i in range(250):
            app.capture("e", {"t": t, "i": i}, distinct_id=f"user-{t}")
    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.kill(os.getpid(), signal.SIGKILL)  # every capture() returned: all must survive
    """
)


@pytest.mark.slow
def test_kill_9_after_threads_captured_loses_nothing(sink: LoopbackSink, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WHILE_THREADS_CAPTURE, sink.url, str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == -9, done.stderr
    with Client("phc_lanes", host=sink.url, storage_dir=tmp_path) as next_run:
        assert next_run.flush(10).pending == 0
    counts = Counter((e["properties"]["t"], e["properties"]["i"]) for e in sink.events)
    assert set(counts) == {(t, i) for t in range(4) for i in range(250)}
    assert max(counts.values()) == 1
    first = sink.events[0]["properties"]
    assert first["$lib"] == "posthog-client-python" and first["$session_id"]
