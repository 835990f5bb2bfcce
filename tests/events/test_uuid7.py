from __future__ import annotations

import os
import threading
import time
import uuid
import warnings

import pytest

from posthog_client._events.uuid7 import normalize_uuid, uuid7, uuid7_time_ms


def test_uuid7_is_version_7_rfc_variant_and_monotonic() -> None:
    ids = [uuid7() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_uuid7_embeds_the_current_time() -> None:
    before = time.time_ns() // 1_000_000
    embedded = uuid7_time_ms(uuid7())
    assert embedded is not None and before <= embedded <= time.time_ns() // 1_000_000 + 1


def test_uuid7_time_of_other_values() -> None:
    assert uuid7_time_ms(str(uuid.uuid4())) is None
    assert uuid7_time_ms("nope") is None


def test_normalize_uuid() -> None:
    value = uuid.uuid4()
    assert normalize_uuid(value) == str(value)
    assert normalize_uuid(str(value).upper()) == str(value)
    assert normalize_uuid("nope") is None
    assert normalize_uuid(42) is None


def test_threads_get_unique_ids_in_order_without_waiting_for_each_other() -> None:
    ids: list[list[str]] = [[] for _ in range(4)]

    def make(mine: list[str]) -> None:
        mine.extend(uuid7() for _ in range(5000))

    threads = [threading.Thread(target=make, args=(mine,)) for mine in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len({u for mine in ids for u in mine}) == 20_000
    assert all(mine == sorted(mine) for mine in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_a_forked_child_never_repeats_its_parents_ids() -> None:
    uuid7()
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, forked as uwsgi would (the flag says so)
        os.write(write, " ".join(uuid7() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    theirs = os.read(read, 1 << 16).decode().split()
    os.waitpid(pid, 0)
    os.close(read)
    ours = [uuid7() for _ in range(100)]
    assert len(theirs) == 100 and not set(theirs) & set(ours)
    assert {u[:23] for u in theirs}.isdisjoint({u[:23] for u in ours})  # fresh random bits too
