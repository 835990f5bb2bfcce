"""Request contexts (identity-spec §1g, R37–R39): scoping, inheritance, exceptions, server mode."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import posthog_client
from posthog_client import (
    Client,
    ConfigurationError,
    identify_context,
    new_context,
    set_context_session,
    tag,
)
from posthog_client._identity.context import current_context
from posthog_client.testing import MemoryBackend

Sent = Callable[[Client], list[dict[str, Any]]]
MakeClient = Callable[..., Client]


@pytest.fixture
def client(make_client: MakeClient) -> Client:
    return make_client(persist=False)


def by_event(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["event"]: e for e in events}


# -- what events inside a context carry ---------------------------------------------------------


def test_event_in_context_carries_context_ids_tags_and_is_server(
    client: Client, sent: Sent
) -> None:
    with new_context():
        identify_context("user_42")
        set_context_session("0199aaaa-0000-7000-8000-000000000001")
        tag("plan", "pro")
        client.capture("order_paid", {"amount": 3})
    (event,) = sent(client)
    props = event["properties"]
    assert event["distinct_id"] == "user_42"
    assert props["$session_id"] == "0199aaaa-0000-7000-8000-000000000001"
    assert props["plan"] == "pro"
    assert props["$context_tags"] == ["plan"]
    assert props["amount"] == 3
    assert props["$is_server"] is True
    assert props["$process_person_profile"] is True
    assert "$device_id" not in props


def test_context_without_distinct_id_sends_personless_events(client: Client, sent: Sent) -> None:
    with new_context():
        client.capture("a")
        client.capture("b")
    first, second = sent(client)
    assert first["distinct_id"] != second["distinct_id"]
    assert uuid.UUID(first["distinct_id"]).version == 7
    assert first["properties"]["$process_person_profile"] is False
    assert first["properties"]["$is_identified"] is False
    assert first["distinct_id"] != client.get_distinct_id()


def test_explicit_distinct_id_wins_over_the_context(client: Client, sent: Sent) -> None:
    with new_context():
        identify_context("user_42")
        client.capture("job_done", distinct_id="user_7")
    (event,) = sent(client)
    assert event["distinct_id"] == "user_7"
    assert event["properties"]["$is_server"] is True


def test_caller_properties_win_over_tags_but_not_over_is_server(client: Client, sent: Sent) -> None:
    with new_context():
        identify_context("user_42")
        set_context_session("ctx-session")
        tag("source", "tag")
        client.capture("e", {"source": "caller", "$is_server": False, "$session_id": "mine"})
    props = sent(client)[0]["properties"]
    assert props["source"] == "caller"
    assert props["$session_id"] == "mine"  # R39: unless the caller passes one
    assert props["$is_server"] is True  # W11


def test_events_outside_any_context_use_the_persisted_identity(client: Client, sent: Sent) -> None:
    with new_context():
        identify_context("user_42")
    client.capture("after")
    (event,) = sent(client)
    assert event["distinct_id"] == client.get_distinct_id()
    assert "$is_server" not in event["properties"]


# -- nesting -----------------------------------------------------------------------------------


def test_nested_context_inherits_and_its_changes_stay_inside(client: Client, sent: Sent) -> None:
    with new_context():
        identify_context("parent")
        set_context_session("parent-session")
        tag("a", 1)
        with new_context():
            tag("b", 2)
            client.capture("inherited")
            identify_context("child")
            client.capture("child")
        client.capture("parent")
    events = by_event(sent(client))
    inherited = events["inherited"]
    assert inherited["distinct_id"] == "parent"
    assert inherited["properties"]["$session_id"] == "parent-session"
    assert inherited["properties"]["$context_tags"] == ["a", "b"]
    assert events["child"]["distinct_id"] == "child"
    assert events["parent"]["distinct_id"] == "parent"
    assert events["parent"]["properties"]["$context_tags"] == ["a"]


def test_fresh_context_starts_empty(client: Client, sent: Sent) -> None:
    with new_context():
        identify_context("parent")
        tag("a", 1)
        with new_context(fresh=True):
            client.capture("fresh")
    (event,) = sent(client)
    assert event["properties"]["$process_person_profile"] is False
    assert "a" not in event["properties"]
    assert "$context_tags" not in event["properties"]


def test_exiting_restores_the_enclosing_context() -> None:
    assert current_context() is None
    with new_context():
        outer = current_context()
        with new_context():
            assert current_context() is not outer
        assert current_context() is outer
    assert current_context() is None


# -- threads and asyncio -----------------------------------------------------------------------


def test_threads_each_see_their_own_context(client: Client, sent: Sent) -> None:
    barrier = threading.Barrier(4)

    def request(user: str) -> None:
        with new_context():
            identify_context(user)
            barrier.wait(5)  # every thread is inside its context before any captures
            client.capture("request", {"user": user})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(request, [f"user_{n}" for n in range(4)]))
    events = sent(client)
    assert len(events) == 4
    assert all(e["distinct_id"] == e["properties"]["user"] for e in events)


def test_code_run_in_a_copy_of_the_request_context_shares_it(client: Client, sent: Sent) -> None:
    # What frameworks do for sync handlers: run them in a thread with a copy of the contextvars.
    with new_context(), ThreadPoolExecutor(1) as pool:
        pool.submit(contextvars.copy_context().run, identify_context, "from_thread").result()
        client.capture("after_thread")
    assert sent(client)[0]["distinct_id"] == "from_thread"


def test_sibling_tasks_are_isolated_and_child_tasks_inherit(client: Client, sent: Sent) -> None:
    async def child(name: str) -> None:
        client.capture("child", {"request": name})

    async def request(name: str) -> None:
        with new_context():
            identify_context(name)
            await asyncio.sleep(0)  # let the sibling requests interleave
            await asyncio.create_task(child(name))
            await asyncio.sleep(0)
            client.capture("request", {"request": name})

    async def main() -> None:
        await asyncio.gather(*(request(f"user_{n}") for n in range(10)))

    asyncio.run(main())
    events = sent(client)
    assert len(events) == 20
    assert all(e["distinct_id"] == e["properties"]["request"] for e in events)


def test_identify_in_a_child_task_or_thread_applies_to_the_request(
    client: Client, sent: Sent
) -> None:
    async def authenticate() -> None:
        identify_context("from_task")

    async def request() -> None:
        with new_context():
            await asyncio.create_task(authenticate())
            client.capture("after_task")
            await asyncio.to_thread(identify_context, "from_thread")
            client.capture("after_thread")

    asyncio.run(request())
    events = by_event(sent(client))
    assert events["after_task"]["distinct_id"] == "from_task"
    assert events["after_thread"]["distinct_id"] == "from_thread"


def test_forked_child_starts_without_a_context() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("no fork() on this platform")
    read_end, write_end = os.pipe()
    with new_context():
        identify_context("parent")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.write(write_end, b"none" if current_context() is None else b"some")
            os._exit(0)
        os.close(write_end)
        assert os.read(read_end, 4) == b"none"
        os.close(read_end)
        os.waitpid(pid, 0)
        assert current_context() is not None  # the parent keeps its context


# -- decorator ---------------------------------------------------------------------------------


def test_decorated_sync_function_runs_in_its_own_context_per_call(
    client: Client, sent: Sent
) -> None:
    barrier = threading.Barrier(3)

    @new_context()
    def handle(user: str) -> str:
        identify_context(user)
        barrier.wait(5)  # three calls of one decorated function are inside it at once
        client.capture("handled", {"user": user})
        return user

    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(handle, ["a_1", "b_2", "c_3"])) == ["a_1", "b_2", "c_3"]
    assert current_context() is None
    assert all(e["distinct_id"] == e["properties"]["user"] for e in sent(client))


def test_decorated_coroutine_function_runs_in_its_own_context_per_call(
    client: Client, sent: Sent
) -> None:
    @new_context()
    async def handle(user: str) -> str:
        identify_context(user)
        await asyncio.sleep(0)
        client.capture("handled", {"user": user})
        return user

    async def main() -> list[str]:
        return list(await asyncio.gather(handle("a_1"), handle("b_2")))

    assert asyncio.run(main()) == ["a_1", "b_2"]
    events = sent(client)
    assert len(events) == 2
    assert all(e["distinct_id"] == e["properties"]["user"] for e in events)


# -- exceptions --------------------------------------------------------------------------------


def test_escaping_exception_is_captured_once_and_reraised_unchanged(
    client: Client, sent: Sent
) -> None:
    error = ValueError("boom")
    with pytest.raises(ValueError) as raised, new_context(client=client):
        identify_context("user_42")
        tag("route", "/pay")
        with new_context():
            raise error
    assert raised.value is error
    (event,) = sent(client)
    assert event["event"] == "$exception"
    assert event["distinct_id"] == "user_42"
    props = event["properties"]
    assert props["route"] == "/pay"
    assert props["$exception_type"] == "ValueError"
    assert props["$exception_list"][0]["mechanism"]["handled"] is False


def test_exception_capture_can_be_turned_off(client: Client, sent: Sent) -> None:
    with pytest.raises(ValueError), new_context(capture_exceptions=False, client=client):
        raise ValueError("boom")
    assert sent(client) == []


def test_exceptions_of_decorated_coroutines_are_captured(client: Client, sent: Sent) -> None:
    @new_context(client=client)
    async def handle() -> None:
        identify_context("user_42")
        raise KeyError("missing")

    with pytest.raises(KeyError):
        asyncio.run(handle())
    (event,) = sent(client)
    assert (event["event"], event["distinct_id"]) == ("$exception", "user_42")


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit, asyncio.CancelledError])
def test_ways_of_stopping_are_not_errors(client: Client, sent: Sent, stop: type) -> None:
    with pytest.raises(stop), new_context(client=client):
        raise stop()
    assert sent(client) == []


def test_exceptions_go_to_the_global_client_by_default(
    backend: MemoryBackend, storage_dir: Path
) -> None:
    client = posthog_client.init("phc_test", backend=backend, storage_dir=storage_dir)
    with pytest.raises(ValueError), new_context():
        identify_context("user_42")
        raise ValueError("boom")
    client.flush(5)
    assert [e["distinct_id"] for e in backend.events] == ["user_42"]


def test_a_failing_capture_never_replaces_the_application_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def capture(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("strict mode said no")

    error = ValueError("boom")
    with pytest.raises(ValueError) as raised, new_context(client=Broken()):  # type: ignore[arg-type]
        raise error
    assert raised.value is error
    assert "unhandled ValueError not captured" in caplog.text


# -- misuse ------------------------------------------------------------------------------------


def test_setters_outside_a_context_are_ignored_with_a_warning(
    client: Client, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    identify_context("user_42")
    set_context_session("s")
    tag("k", "v")
    client.capture("e")
    (event,) = sent(client)
    assert event["distinct_id"] == client.get_distinct_id()
    assert "k" not in event["properties"]
    assert caplog.text.count("called outside new_context()") == 3


@pytest.mark.parametrize("bad", ["", "   ", "null", "undefined", "x" * 201, 3.5])
def test_refused_ids_keep_the_previous_one(
    client: Client, sent: Sent, caplog: pytest.LogCaptureFixture, bad: Any
) -> None:
    with caplog.at_level(logging.WARNING), new_context():
        identify_context("user_42")
        identify_context(bad)
        set_context_session("  ")
        client.capture("e")
    (event,) = sent(client)
    assert event["distinct_id"] == "user_42"
    assert "$session_id" not in event["properties"]
    assert "identify_context() ignored" in caplog.text


def test_integer_ids_become_strings(client: Client, sent: Sent) -> None:
    with new_context():
        identify_context(42)  # type: ignore[arg-type]
        client.capture("e")
    assert sent(client)[0]["distinct_id"] == "42"


# -- server mode -------------------------------------------------------------------------------


def test_server_mode_keeps_nothing_on_disk_and_disables_geoip(
    make_client: MakeClient, sent: Sent, storage_dir: Path
) -> None:
    client = make_client(mode="server")
    assert (client.options.persist, client.options.disable_geoip) == (False, True)
    client.capture("outside")
    with new_context():
        client.capture("inside")
    events = by_event(sent(client))
    assert events["inside"]["properties"]["$geoip_disable"] is True
    assert events["outside"]["properties"]["$geoip_disable"] is True
    assert not storage_dir.exists() or not any(storage_dir.iterdir())


def test_explicit_options_win_over_the_server_preset(make_client: MakeClient) -> None:
    client = make_client(mode="server", persist=True, disable_geoip=False)
    assert (client.options.persist, client.options.disable_geoip) == (True, False)
    assert make_client().options.mode == "desktop"


def test_unknown_mode_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="mode must be one of"):
        Client("phc_test", mode="lambda", persist=False)
