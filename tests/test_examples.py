"""The examples run as a newcomer would run them, against the local reference server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from posthog_client.server import LocalServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def query(server: LocalServer, path: str) -> Any:
    with urllib.request.urlopen(server.url + path, timeout=10) as response:
        return json.load(response)


def test_quickstart_proves_every_id_leads_to_the_whole_history() -> None:
    output = run("quickstart.py")
    assert "2 persons on the server" in output
    assert "distinct ids: " in output and "alice, backend-7f3a" in output
    assert "looked up by each of its 3 ids: same person, same 8 events" in output
    assert "looked up by each of its 2 ids: same person, same 3 events" in output


def test_cli_app_story_across_processes(tmp_path: Path) -> None:
    with LocalServer() as server:
        env = {"POSTHOG_HOST": server.url, "POSTHOG_CLIENT_DIR": str(tmp_path)}
        anonymous = run("cli_app.py", "open", "notes.txt", env=env)
        assert "(anonymous)" in anonymous
        assert "(identified)" in run("cli_app.py", "login", "alice", env=env)
        run("cli_app.py", "open", "todo.txt", env=env)
        after = run("cli_app.py", "logout", env=env)
        assert "(anonymous)" in after
        person = query(server, "/api/persons?distinct_id=alice")
        anonymous_id = anonymous.split("distinct id: ")[1].split()[0]
        assert anonymous_id in person["distinct_ids"]
        events = [e["event"] for e in query(server, "/api/events?distinct_id=alice")["results"]]
        assert events.count("file_opened") == 2  # the anonymous one and the logged-in one
        assert "logged_out" in events


@pytest.mark.parametrize("script", ["fastapi_app.py", "django_app.py"])
def test_web_examples_join_backend_events_to_the_frontend_person(script: str) -> None:
    pytest.importorskip("fastapi" if script.startswith("fastapi") else "django")
    output = run(script)
    assert "backend events in the frontend's person" in output
