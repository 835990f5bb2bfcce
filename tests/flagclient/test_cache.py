"""The app's flag files: shared by processes, replaced atomically, cleared by reset()."""

from __future__ import annotations

from pathlib import Path

import pytest

from posthog_client._flagclient.cache import (
    CachedFlags,
    FlagFile,
    FlagStore,
    merge_person_properties,
)
from posthog_client._flagclient.values import FlagInfo, FlagSet

CACHED = CachedFlags(FlagSet({"beta": FlagInfo(True, "[1]", 3)}, request_id="r"), "key-1", 1000)


def test_a_second_process_reads_what_the_first_stored(tmp_path: Path) -> None:
    first, second = FlagStore(tmp_path), FlagStore(tmp_path)
    first.update(lambda f: f._replace(cached=CACHED))
    assert second.current().cached is None  # not re-read until asked
    assert second.refresh() and second.current().cached == CACHED
    assert not second.refresh()  # unchanged: one stat, no read
    assert FlagStore(tmp_path).current().cached == CACHED  # a later run starts with it


def test_person_properties_for_flags_merge_like_set_and_set_once(tmp_path: Path) -> None:
    store = FlagStore(tmp_path)
    store.update(lambda f: merge_person_properties(f, {"plan": "free", "a": 1}, None))
    store.update(lambda f: merge_person_properties(f, {"plan": "pro"}, {"plan": "x", "b": 2}))
    store.update(lambda f: merge_person_properties(f, None, None, ["a"]))
    assert dict(FlagStore(tmp_path).current().inputs.person_properties) == {"plan": "pro", "b": 2}


def test_clear_forgets_flags_inputs_and_reported_calls_for_every_process(tmp_path: Path) -> None:
    store, other = FlagStore(tmp_path), FlagStore(tmp_path)
    store.update(lambda f: merge_person_properties(f._replace(cached=CACHED), {"a": 1}, None))
    assert store.claim_call(("u", "s"), ("beta", "true"))
    store.clear()
    other.refresh()
    assert other.current() == FlagFile()
    assert other.claim_call(("u", "s"), ("beta", "true"))
    assert not (tmp_path / "flags.json").exists()


def test_a_flag_value_is_claimed_once_per_user_and_session_across_processes(tmp_path: Path) -> None:
    first, second = FlagStore(tmp_path), FlagStore(tmp_path)
    assert first.claim_call(("u", "s1"), ("beta", "true"))
    assert not second.claim_call(("u", "s1"), ("beta", "true"))
    assert second.claim_call(("u", "s1"), ("beta", "false"))  # another value
    assert second.claim_call(("u", "s2"), ("beta", "true"))  # another session
    assert first.claim_call(("u", "s1"), ("beta", "true"))  # s1 was forgotten for s2


def test_a_damaged_file_reads_as_empty_and_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "flags.json").write_text('{"version": 1, "inputs": [')
    store = FlagStore(tmp_path)
    assert store.current() == FlagFile() and "ignored" in caplog.text
    store.update(lambda f: f._replace(cached=CACHED))
    assert FlagStore(tmp_path).current().cached == CACHED


def test_without_a_directory_everything_stays_in_memory() -> None:
    store = FlagStore(None)
    store.update(lambda f: f._replace(cached=CACHED))
    assert store.current().cached == CACHED
    assert store.claim_call(("u", "s"), ("f", "true"))
    assert not store.claim_call(("u", "s"), ("f", "true"))


def test_a_failed_write_degrades_to_memory_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("posthog_client._flagclient.cache.write_atomically", full_disk)
    store = FlagStore(tmp_path)
    store.update(lambda f: f._replace(cached=CACHED))
    assert store.current().cached == CACHED
    assert "keeping flags in memory" in caplog.text
    assert store.claim_call(("u", "s"), ("f", "true"))  # still works, in memory
    assert not store.claim_call(("u", "s"), ("f", "true"))
