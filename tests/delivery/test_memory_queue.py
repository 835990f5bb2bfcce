"""The in-memory queue of persist=False: bounded, refuses the newest when full, never blocks."""

from __future__ import annotations

import json
import logging

import pytest
from delivery_support import event

from posthog_client._delivery.memory_queue import MemoryQueue
from posthog_client._delivery.queue import Counters
from posthog_client._events.encoding import SharedProperties


def numbers(events: list[bytes]) -> list[int]:
    return [json.loads(item)["properties"]["i"] for item in events]


def test_full_queue_refuses_new_events_counts_them_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counters = Counters()
    queue = MemoryQueue(3, counters)
    with caplog.at_level(logging.WARNING, "posthog_client"):
        accepted = [queue.put(event(i)) for i in range(5)]
    assert accepted == [True, True, True, False, False]
    assert counters.get("dropped_queue_full") == 2
    assert len(caplog.records) == 1
    batch = queue.next_batch(10, 10**6)
    assert batch is not None and numbers(batch.events) == [0, 1, 2]


def test_batches_peek_until_acknowledged() -> None:
    queue = MemoryQueue(100, Counters())
    for i in range(5):
        queue.put(event(i))
    first = queue.next_batch(2, 10**6)
    assert first is not None and numbers(first.events) == [0, 1]
    again = queue.next_batch(2, 10**6)  # not acknowledged: offered again
    assert again is not None and numbers(again.events) == [0, 1]
    queue.ack(again, 1)
    rest = queue.next_batch(10, 200)  # byte limit, at least one
    assert rest is not None and numbers(rest.events) == [1]
    assert queue.pending() == 4


def test_purge_empties_and_ignores_a_stale_ack() -> None:
    queue = MemoryQueue(100, Counters())
    for i in range(3):
        queue.put(event(i))
    batch = queue.next_batch(10, 10**6)
    assert batch is not None
    assert queue.purge() == 3
    queue.put(event(7))
    queue.ack(batch, 3)  # from before the purge: must not pop the new event
    assert queue.pending() == 1


def test_a_forked_child_starts_empty() -> None:
    queue = MemoryQueue(100, Counters())
    queue.put(event(1))
    queue.reset_after_fork()
    assert queue.pending() == 0
    assert queue.next_batch(10, 10**6) is None


def test_events_are_kept_as_exact_size_copies_with_shared_properties_spliced_in() -> None:
    queue = MemoryQueue(10, Counters())
    line = event(1)
    shared = SharedProperties({"$lib": "posthog-client-python"})
    queue.put(line)  # orjson's result keeps a larger allocation: 50k of them took 400 MiB
    queue.put(line, shared)
    batch = queue.next_batch(10, 10**6)
    assert batch is not None
    kept, spliced = batch.events
    assert kept == line and kept is not line
    assert json.loads(spliced)["properties"] == {"$lib": "posthog-client-python", "i": 1}
