"""The on-disk queue: order, durable progress, adoption of dead owners, budget, purge."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from delivery_support import event

from posthog_client._delivery.append import load_append
from posthog_client._delivery.disk_queue import DiskQueue
from posthog_client._delivery.lines import definition
from posthog_client._delivery.queue import MAX_BATCH_BYTES, Counters
from posthog_client._events.encoding import SharedProperties, with_shared

OLD_QUEUE = Path(__file__).parent / "data" / "queue-0.1.0"


def drain(queue: DiskQueue, max_count: int = 500, done: int | None = None) -> list[int]:
    """Read and acknowledge everything; returns the ``i`` of each event in order."""
    seen: list[int] = []
    while (batch := queue.next_batch(max_count, MAX_BATCH_BYTES)) is not None:
        seen += [json.loads(item)["properties"]["i"] for item in batch.events]
        queue.ack(batch, len(batch.events) if done is None else done)
        if done is not None:
            break
    return seen


def adopt(queue: DiskQueue) -> None:
    queue._next_scan = 0.0  # the next maintain() scans for orphans now
    queue.maintain()


def test_events_come_back_in_order_and_files_go_when_sent(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path, 10**8, Counters())
    for i in range(25):
        assert queue.put(event(i))
    assert queue.pending() == 25
    assert drain(queue, max_count=10) == list(range(25))
    assert queue.pending() == 0
    queue.close()
    assert os.listdir(tmp_path) == []


def test_batches_respect_count_and_bytes(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path, 10**8, Counters())
    for i in range(10):
        queue.put(event(i, pad="x" * 1000))
    batch = queue.next_batch(4, 10**6)
    assert batch is not None and len(batch.events) == 4
    batch = queue.next_batch(100, 2500)
    assert batch is not None and len(batch.events) == 2
    batch = queue.next_batch(100, 10)  # always at least one event
    assert batch is not None and len(batch.events) == 1
    queue.close()


def test_progress_survives_the_process_and_is_not_resent(tmp_path: Path) -> None:
    first = DiskQueue(tmp_path, 10**8, Counters())
    for i in range(10):
        first.put(event(i))
    assert drain(first, max_count=4, done=4) == [0, 1, 2, 3]
    first.close()  # unsent events stay, the lock is released
    second = DiskQueue(tmp_path, 10**8, Counters())
    second.put(event(100))
    adopt(second)
    assert second.pending() == 7
    assert drain(second) == [4, 5, 6, 7, 8, 9, 100]  # earlier runs first (P3)
    second.close()
    assert os.listdir(tmp_path) == []


def test_a_live_owner_is_never_adopted(tmp_path: Path) -> None:
    live = DiskQueue(tmp_path, 10**8, Counters())
    live.put(event(1))
    other = DiskQueue(tmp_path, 10**8, Counters())
    adopt(other)
    assert other.pending() == 0
    assert other.next_batch(10, MAX_BATCH_BYTES) is None
    other.close()
    assert drain(live) == [1]
    live.close()


def test_segments_rotate_and_are_deleted_once_read(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path, 2 * 1024 * 1024, Counters())  # 128 KiB segments
    for i in range(2000):
        queue.put(event(i, pad="x" * 200))
    segments = [name for name in os.listdir(tmp_path) if name.endswith(".seg")]
    assert len(segments) > 3
    assert drain(queue) == list(range(2000))
    assert [name for name in os.listdir(tmp_path) if name.endswith(".seg")] == [
        max(segments)  # only the one still being written remains
    ]
    queue.close()


def test_lines_written_just_before_a_rotation_are_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = DiskQueue(tmp_path, 10**8, Counters())
    queue.put(event(1))
    assert drain(queue) == [1]
    finish_head = queue._finish_head

    def writer_moves_on(stream: Any) -> bool:
        # Between the reader's empty read and its check: an append, then a rotation.
        monkeypatch.setattr(queue, "_finish_head", finish_head)
        queue.put(event(2))
        queue._segment_bytes = 1
        queue.put(event(3))
        return finish_head(stream)

    monkeypatch.setattr(queue, "_finish_head", writer_moves_on)
    assert drain(queue) == [2, 3]
    assert queue.pending() == 0
    queue.close()


def test_over_budget_drops_the_oldest_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    counters = Counters()
    queue = DiskQueue(tmp_path, 1024 * 1024, counters)  # 64 KiB segments
    with caplog.at_level(logging.WARNING, "posthog_client"):
        for i in range(6000):  # ~1.9 MB, with the worker's housekeeping every 200 events
            assert queue.put(event(i, pad="x" * 200))
            if i % 200 == 199:
                queue.maintain()
    dropped = counters.get("dropped_disk_full")
    assert dropped > 0
    assert queue.pending() == 6000 - dropped
    assert drain(queue) == list(range(dropped, 6000))  # the newest survive
    assert len([r for r in caplog.records if "oldest" in r.getMessage()]) == 1
    queue.close()


def test_a_stuck_reader_cannot_grow_the_disk_past_the_hard_limit(tmp_path: Path) -> None:
    counters = Counters()
    queue = DiskQueue(tmp_path, 256 * 1024, counters)
    accepted = 0
    # The reader is stuck: neither it nor a writer can trim. SpillingQueue keeps the event.
    with queue._consume_lock, pytest.raises(OSError, match="max_disk_bytes"):
        for i in range(3000):
            accepted += queue.put(event(i, pad="x" * 200))
    assert 0 < accepted < 3000
    assert counters.get("dropped_disk_full") == 0
    queue.close()


def test_a_writer_keeps_the_budget_while_the_reader_is_busy_elsewhere(tmp_path: Path) -> None:
    counters = Counters()
    queue = DiskQueue(tmp_path, 256 * 1024, counters)  # 64 KiB segments
    for i in range(5000):  # ~1.4 MB, and no housekeeping at all: the worker is in a request
        assert queue.put(event(i, pad="x" * 200))
    dropped = counters.get("dropped_disk_full")
    assert dropped > 0
    assert sum(os.path.getsize(p) for p in tmp_path.glob("*.seg")) < 256 * 1024 + 2 * 64 * 1024
    assert drain(queue) == list(range(dropped, 5000))  # the newest, in order
    queue.close()


def test_a_failed_write_raises_and_leaves_no_torn_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counters = Counters()
    queue = DiskQueue(tmp_path, 10**8, counters)
    queue.put(event(1))
    real_append = queue._append

    def short_write(fd: int, data: bytes) -> int:
        return real_append(fd, data[:5])

    monkeypatch.setattr(queue, "_append", short_write)
    with pytest.raises(OSError):
        queue.put(event(2))

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(queue, "_append", full)
    with pytest.raises(OSError):
        queue.put(event(3))
    monkeypatch.setattr(queue, "_append", real_append)
    queue.put(event(4))
    assert drain(queue) == [1, 4]
    assert counters.get("dropped_corrupt") == 0
    queue.close()


def test_a_torn_last_line_of_a_dead_owner_is_skipped(tmp_path: Path) -> None:
    dead = DiskQueue(tmp_path, 10**8, Counters())
    dead.put(event(1))
    dead.put(event(2))
    dead.close()
    (segment,) = tmp_path.glob("*.seg")
    with open(segment, "ab") as file:
        file.write(b'{"event":"torn')  # a writer killed mid-line
    counters = Counters()
    queue = DiskQueue(tmp_path, 10**8, counters)
    adopt(queue)
    assert drain(queue) == [1, 2]
    assert counters.get("dropped_corrupt") == 1
    queue.close()
    assert os.listdir(tmp_path) == []


def test_purge_deletes_own_and_orphaned_events(tmp_path: Path) -> None:
    orphan = DiskQueue(tmp_path, 10**8, Counters())
    for i in range(5):
        orphan.put(event(i))
    orphan.close()
    queue = DiskQueue(tmp_path, 10**8, Counters())
    for i in range(3):
        queue.put(event(i))
    batch = queue.next_batch(10, MAX_BATCH_BYTES)
    assert batch is not None
    assert queue.purge() == 8
    queue.ack(batch, len(batch.events))  # an in-flight batch cannot resurrect anything
    assert queue.pending() == 0
    assert queue.next_batch(10, MAX_BATCH_BYTES) is None
    assert os.listdir(tmp_path) == []
    queue.put(event(9))  # still usable: a fresh owner
    assert drain(queue) == [9]
    queue.close()


def test_draining_a_large_backlog_keeps_memory_flat(tmp_path: Path) -> None:
    writer = DiskQueue(tmp_path, 10**9, Counters())
    for i in range(40_000):  # ~20 MB
        writer.put(event(i, pad="x" * 400))
    writer.close()
    queue = DiskQueue(tmp_path, 10**9, Counters())
    tracemalloc.start()
    try:
        adopt(queue)
        count = 0
        while (batch := queue.next_batch(500, MAX_BATCH_BYTES)) is not None:
            count += len(batch.events)
            queue.ack(batch, len(batch.events))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 40_000
    assert peak < 8 * 1024 * 1024
    queue.close()


def test_append_writes_like_os_write_and_raises_oserror(tmp_path: Path) -> None:
    append = load_append()
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        assert append(fd, b"abc\n") == 4
        assert append(fd, b"de\n") == 3
    finally:
        os.close(fd)
    assert (tmp_path / "f").read_bytes() == b"abc\nde\n"
    with pytest.raises(OSError) as caught:
        append(fd, b"closed")
    assert caught.value.errno == errno.EBADF


def test_after_fork_the_child_forgets_the_parents_events(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path, 10**8, Counters())
    queue.put(event(1))
    streams = list(queue._streams.values())
    queue.reset_after_fork()  # what the child runs (here without a real fork)
    assert queue.pending() == 0
    assert queue.next_batch(10, MAX_BATCH_BYTES) is None
    for stream in streams:  # only so this single process can clean up
        stream.lock.release()
    queue.close()


def test_shared_properties_are_written_once_per_segment_and_restored(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path, 10**8, Counters())
    shared = SharedProperties({"$lib": "posthog-client-python", "$os": "Linux", "pad": "x" * 300})
    own = [event(i) for i in range(100)]
    for line in own:
        queue.put(line, shared)
    (segment,) = tmp_path.glob("*.seg")
    data = segment.read_bytes()
    assert data.count(b"x" * 300) == 1  # once, not per event
    assert len(data) == len(definition(b"0", shared.members)) + sum(len(line) + 3 for line in own)
    batch = queue.next_batch(500, MAX_BATCH_BYTES)
    assert batch is not None
    assert batch.events == [with_shared(line, shared.splice) for line in own]
    queue.ack(batch, 60)
    queue.close()
    adopted = DiskQueue(tmp_path, 10**8, Counters())  # from the middle, past the definition
    adopt(adopted)
    assert drain(adopted) == list(range(60, 100))
    adopted.close()


def test_segments_of_the_previous_version_are_delivered_unchanged(tmp_path: Path) -> None:
    # Written by posthog-client 0.1.0 (whole lines, two of six acknowledged), then it exited:
    # an app upgraded with events on disk.
    for file in OLD_QUEUE.iterdir():
        shutil.copy(file, tmp_path / file.name)
    (old_segment,) = tmp_path.glob("*.seg")
    expected = old_segment.read_bytes().split(b"\n")[2:-1]
    queue = DiskQueue(tmp_path, 10**8, Counters())
    queue.put(event(100), SharedProperties({"$lib": "posthog-client-python"}))
    adopt(queue)
    assert queue.pending() == 5
    batch = queue.next_batch(500, MAX_BATCH_BYTES)
    assert batch is not None and batch.events == expected  # byte for byte, earlier run first
    queue.ack(batch, len(batch.events))
    assert drain(queue) == [100]
    queue.close()
    assert os.listdir(tmp_path) == []


def test_a_folder_deleted_while_a_batch_is_in_flight_is_recreated_at_its_ack(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "queue"
    queue = DiskQueue(folder, 10**8, Counters())
    queue.put(event(1))
    batch = queue.next_batch(10, MAX_BATCH_BYTES)
    assert batch is not None
    shutil.rmtree(folder)  # a cleanup tool, while the batch is being sent
    queue.put(event(2))  # into the deleted file
    queue.maintain()  # not now: it would carry the batch in flight over and send it twice
    assert not folder.exists()
    queue.ack(batch, 1)
    assert folder.is_dir()
    assert drain(queue) == [2]
    queue.close()
