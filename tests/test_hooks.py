"""``before_send`` and exception autocapture (``_hooks.py``): redaction and sampling that never
lose an event by accident, and crashes that are reported once and then behave as before."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posthog_client
from posthog_client import Client
from posthog_client._delivery.inspect import queued_events
from posthog_client._hooks import ExceptionHooks
from posthog_client.server import LocalServer

MakeClient = Callable[..., Client]
Sent = Callable[[Client], list[dict[str, Any]]]
CHILD = Path(__file__).parent / "crash_child.py"


# -- before_send ---------------------------------------------------------------------------------


def test_before_send_redacts_and_sees_the_whole_event(make_client: MakeClient, sent: Sent) -> None:
    seen: list[dict[str, Any]] = []

    def redact(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        event["properties"].pop("email", None)
        return event

    client = make_client(before_send=redact, super_properties={"app": "x"})
    uuid = client.capture("signed_up", {"email": "a@b.c", "plan": "free"})
    (event,) = sent(client)
    assert event["uuid"] == uuid and "email" not in event["properties"]
    assert event["properties"]["plan"] == "free"
    # the hook sees what is sent: SDK context, device id and super properties included
    assert {"$lib", "$device_id", "$session_id", "app"} <= set(seen[0]["properties"])


def test_returning_none_drops_the_event_and_counts_it(make_client: MakeClient, sent: Sent) -> None:
    client = make_client(before_send=lambda e: None if e["event"] == "noise" else e)
    assert client.capture("noise") is None
    assert client.capture("signal") is not None
    assert [e["event"] for e in sent(client)] == ["signal"]
    assert client.stats()["dropped_before_send"] == 1


def test_a_failing_hook_sends_the_event_unchanged_and_logs_once(
    make_client: MakeClient, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: dict[str, Any]) -> dict[str, Any]:
        event["properties"]["half"] = "done"
        raise KeyError("oops")

    client = make_client(before_send=broken)
    client.capture("a", {"n": 1})
    client.capture("b", {"n": 2})
    events = sent(client)
    assert [e["event"] for e in events] == ["a", "b"]
    assert all("half" not in e["properties"] for e in events)  # not half-changed either
    assert caplog.text.count("before_send raised") == 1


@pytest.mark.parametrize(
    "result", ["a string", {"event": "", "distinct_id": "u", "properties": {}}, {"event": "x"}]
)
def test_a_hook_returning_something_unsendable_leaves_the_event_unchanged(
    make_client: MakeClient, sent: Sent, caplog: pytest.LogCaptureFixture, result: object
) -> None:
    client = make_client(before_send=lambda e: result)
    uuid = client.capture("kept", {"n": 1})
    (event,) = sent(client)
    assert (event["event"], event["uuid"], event["properties"]["n"]) == ("kept", uuid, 1)
    assert "before_send returned" in caplog.text


def test_uuid_and_timestamp_removed_by_the_hook_are_put_back(
    make_client: MakeClient, sent: Sent
) -> None:
    def strip(event: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in event.items() if k not in ("uuid", "timestamp")}

    client = make_client(before_send=strip)
    uuid = client.capture("x")
    (event,) = sent(client)
    assert event["uuid"] == uuid and event["timestamp"]


def test_without_a_hook_the_capture_path_has_nothing_to_call(client: Client) -> None:
    assert client._before_send is None and client._hooks is None


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    result=st.one_of(
        st.none(),
        st.integers(),
        st.text(),
        st.dictionaries(
            st.sampled_from(["event", "distinct_id", "properties", "uuid", "timestamp", "x"]),
            st.one_of(st.none(), st.text(), st.integers(), st.dictionaries(st.text(), st.text())),
        ),
    )
)
def test_whatever_the_hook_returns_capture_never_raises_and_sends_an_event_or_none(
    make_client: MakeClient, sent: Sent, result: object
) -> None:
    client = make_client(before_send=lambda e: result, strict=False, persist=False)
    uuid = client.capture("probe", {"n": 1})
    events = sent(client)
    client.shutdown(0)
    if result is None:
        assert uuid is None
    else:
        assert uuid is not None and events[-1]["uuid"] == uuid
        assert isinstance(events[-1]["distinct_id"], str) and events[-1]["distinct_id"]


def test_before_send_must_be_callable(make_client: MakeClient) -> None:
    with pytest.raises(posthog_client.ConfigurationError, match="before_send must be a function"):
        make_client(before_send="redact")


# -- exception autocapture -----------------------------------------------------------------------


class PreviousHooks:
    """Stand-ins for the hooks that were installed before the client's."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sys_calls: list[BaseException] = []
        self.thread_calls: list[BaseException | None] = []
        monkeypatch.setattr(sys, "excepthook", self.on_sys)
        monkeypatch.setattr(threading, "excepthook", self.on_thread)

    def on_sys(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        self.sys_calls.append(exc)

    def on_thread(self, args: threading.ExceptHookArgs) -> None:
        self.thread_calls.append(args.exc_value)


@pytest.fixture
def previous(monkeypatch: pytest.MonkeyPatch) -> PreviousHooks:
    return PreviousHooks(monkeypatch)


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_an_unhandled_exception_is_sent_once_then_handed_on(
    make_client: MakeClient, sent: Sent, previous: PreviousHooks
) -> None:
    client = make_client(enable_exception_autocapture=True)
    exc = raised(ValueError("boom"))
    sys.excepthook(ValueError, exc, exc.__traceback__)
    sys.excepthook(ValueError, exc, exc.__traceback__)  # the same exception again: not resent
    assert previous.sys_calls == [exc, exc]
    (event,) = sent(client)
    entry = event["properties"]["$exception_list"][0]
    assert (event["event"], entry["type"], entry["value"]) == ("$exception", "ValueError", "boom")
    assert entry["mechanism"]["type"] == "excepthook" and entry["mechanism"]["handled"] is False


def test_interrupts_and_exits_are_handed_on_but_captured_only_when_asked(
    make_client: MakeClient, sent: Sent, previous: PreviousHooks
) -> None:
    quiet = make_client(enable_exception_autocapture=True)
    interrupt = raised(KeyboardInterrupt())
    sys.excepthook(KeyboardInterrupt, interrupt, interrupt.__traceback__)
    assert previous.sys_calls == [interrupt] and sent(quiet) == []
    quiet.shutdown()
    asked = make_client(enable_exception_autocapture=True, exception_autocapture_exits=True)
    interrupt = raised(KeyboardInterrupt())
    sys.excepthook(KeyboardInterrupt, interrupt, interrupt.__traceback__)
    assert [e["properties"]["$exception_type"] for e in sent(asked)] == ["KeyboardInterrupt"]


def test_a_thread_that_dies_is_reported_and_the_previous_hook_still_runs(
    make_client: MakeClient, sent: Sent, previous: PreviousHooks
) -> None:
    client = make_client(enable_exception_autocapture=True)

    def fail() -> None:
        raise OSError("disk gone")

    worker = threading.Thread(target=fail)
    worker.start()
    worker.join()
    assert [type(e) for e in previous.thread_calls] == [OSError]
    (event,) = sent(client)
    entry = event["properties"]["$exception_list"][0]
    assert (entry["type"], entry["mechanism"]["type"]) == ("OSError", "threading")


def test_a_running_asyncio_loop_gets_a_chained_handler_removed_at_shutdown(
    make_client: MakeClient, sent: Sent, previous: PreviousHooks
) -> None:
    handled: list[dict[str, Any]] = []
    captured: list[list[dict[str, Any]]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, context: handled.append(context))
        client = make_client(enable_exception_autocapture=True)
        loop.call_exception_handler({"message": "Task exception was never retrieved",
                                     "exception": raised(LookupError("lost"))})  # fmt: skip
        captured.append(sent(client))
        client.shutdown()
        assert loop.get_exception_handler() is not None
        loop.call_exception_handler({"message": "after", "exception": raised(LookupError("2"))})

    asyncio.run(main())
    assert [c["message"] for c in handled] == ["Task exception was never retrieved", "after"]
    (event,) = captured[0]
    assert event["properties"]["$exception_list"][0]["mechanism"]["type"] == "asyncio"


def test_shutdown_restores_the_hooks_or_passes_through_when_chained_over(
    make_client: MakeClient, sent: Sent, previous: PreviousHooks
) -> None:
    client = make_client(enable_exception_autocapture=True)
    client.shutdown()
    assert sys.excepthook == previous.on_sys and threading.excepthook == previous.on_thread
    second = make_client(enable_exception_autocapture=True)
    ours = sys.excepthook
    later_tool = lambda *args: ours(*args)  # noqa: E731 - another tool chained on top of ours
    sys.excepthook = later_tool
    second.shutdown()
    assert sys.excepthook is later_tool  # never unhook something installed after us
    exc = raised(ValueError("after shutdown"))
    sys.excepthook(ValueError, exc, exc.__traceback__)
    assert previous.sys_calls == [exc]  # passed through, not captured


def test_a_failing_report_never_breaks_the_chain(
    previous: PreviousHooks, caplog: pytest.LogCaptureFixture
) -> None:
    def report(exc: BaseException, mechanism: str) -> None:
        raise RuntimeError("the SDK itself failed")

    hooks = ExceptionHooks(report)
    hooks.install()
    try:
        exc = raised(ValueError("boom"))
        sys.excepthook(ValueError, exc, exc.__traceback__)
    finally:
        hooks.uninstall()
    assert previous.sys_calls == [exc]
    assert "unhandled ValueError not captured" in caplog.text


def test_an_environment_opt_out_installs_nothing(
    make_client: MakeClient, previous: PreviousHooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    client = make_client(enable_exception_autocapture=True)
    assert client._hooks is None and sys.excepthook == previous.on_sys


# -- a real crash, in a real process ------------------------------------------------------------


def run_child(host: str, storage: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG_")}
    return subprocess.run(
        [sys.executable, str(CHILD), host, str(storage), *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


@pytest.mark.slow
def test_a_crashing_process_delivers_one_exception_and_keeps_its_traceback_and_status(
    tmp_path: Path,
) -> None:
    with LocalServer() as server:
        done = run_child(server.url, tmp_path)
        events = server.engine.events()
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.rstrip().endswith("ValueError: boom")
    exceptions = [e for e in events if e.event == "$exception"]
    assert len(exceptions) == 1 and {e.event for e in events} == {"started", "$exception"}
    assert exceptions[0].properties["$exception_list"][0]["value"] == "boom"


@pytest.mark.slow
def test_with_the_server_down_the_crash_waits_on_disk_and_exit_stays_fast(tmp_path: Path) -> None:
    with LocalServer() as server:
        down = server.url  # closed once the block ends: nothing listens there any more
    started = time.monotonic()
    done = run_child(down, tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == 1 and done.stderr.rstrip().endswith("ValueError: boom")
    assert elapsed < 10  # the interpreter's own start-up dominates; exit spends ≤ 1 s sending
    (project,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert queued_events(project / "queue") == 2  # "started" and the $exception
    with LocalServer() as server:  # the next run delivers them
        client = Client("phc_local", host=server.url, storage_dir=tmp_path)
        assert client.flush(10).sent == 2
        client.shutdown()
        assert [e.event for e in server.engine.events()].count("$exception") == 1


@pytest.mark.slow
def test_a_crashing_thread_is_reported_and_the_program_goes_on(tmp_path: Path) -> None:
    with LocalServer() as server:
        done = run_child(server.url, tmp_path, "thread")
        events = server.engine.events()
    assert done.returncode == 0 and "main thread goes on" in done.stdout
    assert "ValueError: boom" in done.stderr  # Python's own report of the thread's death
    assert [e.event for e in events].count("$exception") == 1
