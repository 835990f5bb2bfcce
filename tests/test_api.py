"""The module-level API delegates to the client ``init`` created and is harmless before it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import posthog_client as posthog
from posthog_client.testing import MemoryBackend


def test_calls_before_init_are_no_ops_that_log_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        assert posthog.capture("x") is None
        assert posthog.identify("user_1") is False
        assert posthog.alias("a") is False
        assert posthog.get_distinct_id() == ""
        assert posthog.is_identified() is False
        posthog.reset()
        posthog.register({"a": 1})
        assert posthog.flush() == posthog.FlushResult()
        assert posthog.shutdown() == posthog.FlushResult()
        assert posthog.feature_enabled("f") is None and posthog.get_all_flags() == {}
        assert posthog.wait_for_flags(0) is False
        assert posthog.on_feature_flags(lambda flags, errors: None)() is None
        posthog.group("company", "acme")
    assert len([r for r in caplog.records if "before init()" in r.getMessage()]) == 1


def test_init_installs_a_client_used_by_every_function(storage_dir: Path) -> None:
    backend = MemoryBackend()
    client = posthog.init("phc_test", backend=backend, storage_dir=storage_dir)
    assert posthog.get_client() is client
    posthog.capture("opened", {"n": 1})
    assert posthog.identify("user_42", {"email": "a@b.c"})
    assert posthog.alias("backend-42")
    posthog.set_person_properties({"plan": "pro"})
    posthog.unset_person_properties(["plan"])
    assert posthog.get_distinct_id() == "user_42"
    assert posthog.is_identified()
    assert posthog.get_device_id() == client.get_device_id()
    assert posthog.get_session_id() == client.get_session_id()
    posthog.register({"v": 1})
    posthog.register_once({"v": 2, "w": 3})
    posthog.unregister("w")
    posthog.capture("after")
    posthog.flush()
    events = backend.events
    assert [e["event"] for e in events] == [
        "opened", "$identify", "$create_alias", "$set", "$set", "after",
    ]  # fmt: skip
    assert events[-1]["properties"]["v"] == 1
    assert "w" not in events[-1]["properties"]
    posthog.opt_out()
    assert posthog.has_opted_out()
    posthog.opt_in()
    posthog.reset()
    assert not posthog.is_identified()
    assert posthog.merge_dangerously("old-id")


def test_init_again_replaces_and_shuts_down_the_previous_client(storage_dir: Path) -> None:
    first_backend = MemoryBackend()
    first = posthog.init("phc_test", backend=first_backend, storage_dir=storage_dir)
    second = posthog.init("phc_test", backend=MemoryBackend(), storage_dir=storage_dir)
    assert posthog.get_client() is second
    assert first.capture("late") is None


def test_init_reads_the_key_and_host_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, storage_dir: Path
) -> None:
    monkeypatch.setenv("POSTHOG_API_KEY", "phc_env")
    monkeypatch.setenv("POSTHOG_HOST", "https://eu.posthog.com/")
    client = posthog.init(backend=MemoryBackend(), storage_dir=storage_dir)
    assert client.options.api_key == "phc_env"
    assert client.options.host == "https://eu.i.posthog.com"


def test_missing_api_key_is_a_configuration_error() -> None:
    with pytest.raises(posthog.ConfigurationError, match="POSTHOG_API_KEY"):
        posthog.init()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"person_profiles": "sometimes"}, "person_profiles"),
        ({"flush_at": 0}, "flush_at"),
        ({"host": "ftp://x"}, "host"),
        ({"flush_at": 50, "max_queue_size": 10}, "flush_at"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(posthog.ConfigurationError, match=message):
        posthog.Client("phc_test", **options)


def test_an_unknown_option_is_a_type_error_naming_it() -> None:
    # Options are keyword-only parameters: Python refuses a misspelt one before the SDK runs.
    with pytest.raises(TypeError, match="not_an_option"):
        posthog.Client("phc_test", not_an_option=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="not_an_option"):
        posthog.init("phc_test", not_an_option=1)  # type: ignore[call-arg]


def test_module_functions_share_the_client_docstrings() -> None:
    assert posthog.identify.__doc__ == posthog.Client.identify.__doc__
    assert posthog.get_feature_flag.__doc__ == posthog.Client.get_feature_flag.__doc__
    assert posthog.group.__name__ == "group"
