"""A desktop app's runs as real processes against the local server: flags cached on disk for the
next run, an offline start served from the cache, identify reloading with the anonymous id,
and one $feature_flag_called per flag and value per session across the runs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posthog_client.server import FlagSource, LocalServer

CHILD = Path(__file__).resolve().parents[1] / "flags_child.py"
DEFINITIONS = {
    "flags": [
        {"id": 1, "key": "beta", "active": True,
         "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}},
        {"id": 2, "key": "pro-tools", "active": True,
         "filters": {"groups": [{"properties": [{"key": "plan", "value": "pro", "type": "person"}],
                                 "rollout_percentage": 100}]}},
    ]
}  # fmt: skip


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    with LocalServer("phc_processes", flags=DEFINITIONS) as server:
        server.asked = []  # type: ignore[attr-defined]
        real = FlagSource.answer

        def answer(self: FlagSource, engine: Any, body: Any, **options: Any) -> Any:
            server.asked.append(body)  # type: ignore[attr-defined]
            return real(self, engine, body, **options)

        monkeypatch.setattr(FlagSource, "answer", answer)
        yield server


def run(storage: Path, host: str, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(CHILD), str(storage), host, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def unreachable_host() -> str:
    with socket.socket() as sock:  # a port nothing listens on once this closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.slow
def test_runs_of_an_app_share_flags_through_the_disk(server: LocalServer, tmp_path: Path) -> None:
    first = run(tmp_path, server.url, "--wait", "beta", "pro-tools")
    # The first run has no cache: its first read starts the load and answers None; the load
    # (from a local server) may well have finished by the second read.
    assert first["before"]["beta"] is None and first["before"]["pro-tools"] in (None, False)
    assert first["waited"] and first["after"] == {"beta": True, "pro-tools": False}

    offline = run(tmp_path, unreachable_host(), "beta", "pro-tools")
    assert offline["before"] == {"beta": True, "pro-tools": False}  # the last known values
    assert offline["anonymous_id"] == first["anonymous_id"]

    login = run(tmp_path, server.url, "--identify", "alice", "pro-tools")
    assert login["waited"] and login["after"] == {"pro-tools": True}
    last = server.asked[-1]  # type: ignore[attr-defined]
    assert last["distinct_id"] == "alice"
    assert last["$anon_distinct_id"] == first["anonymous_id"]
    assert last["person_properties"]["plan"] == "pro"

    # the offline run's events waited on disk and left with the login run
    calls = [
        (e.distinct_id, e.properties["$feature_flag"], e.properties["$feature_flag_response"])
        for e in server.engine.events(oldest_first=True)
        if e.event == "$feature_flag_called"
    ]
    anonymous = first["anonymous_id"]
    # once per value read in the anonymous session (the first run's second read may already
    # have seen the loaded value: then it is reported once, not twice)
    pro_tools = {first["before"]["pro-tools"], False}
    assert sorted(calls, key=repr) == sorted(
        [
            (anonymous, "beta", None),
            (anonymous, "beta", True),
            *((anonymous, "pro-tools", value) for value in pro_tools),
            ("alice", "pro-tools", True),  # another user: reported again
        ],
        key=repr,
    )
