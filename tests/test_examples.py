"""The examples run as a newcomer would run them, against the local reference server."""

from __future__ import annotations

import ast
import json
import os
import re
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


def test_feature_flags_example_gates_the_feature_across_runs() -> None:
    lines = run("feature_flags.py").splitlines()
    editor = {line.split()[0]: "new editor" in line for line in lines if " as " in line}
    assert editor == {
        "first_run": False,
        "next_run": False,
        "login": True,
        "offline": True,  # the last known flags, from disk
        "after_kill_switch": False,
    }
    assert sum("new-editor  -> True" in line for line in lines) == 1  # once per user and session


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


def _extras() -> dict[str, set[str]]:
    """Distribution names per install target: "." (the runtime) and each ``.[extra]``."""
    text = (EXAMPLES.parent / "pyproject.toml").read_text()
    names = lambda block: {re.split(r"[<>=\[ ]", d)[0] for d in re.findall(r'"([^"]+)"', block)}  # noqa: E731
    targets = {".": names(text.split("dependencies = [", 1)[1].split("]", 1)[0])}
    optional = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    for extra, block in re.findall(r"^(\w+) = \[(.*?)\]$", optional, re.M | re.S):
        targets[f".[{extra}]"] = targets["."] | names(block)
    return targets


def _third_party_imports(script: Path) -> set[str]:
    tree = ast.parse(script.read_text())
    roots = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0)
        for alias in node.names
    }
    return {r for r in roots if r not in sys.stdlib_module_names and r != "posthog_client"}


def test_every_example_the_readme_runs_follows_an_install_that_brings_its_imports() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    commands = re.findall(r'pip install -e "?([^"\s]+)"?\s*&&\s*python (examples/\S+\.py)', readme)
    assert {script for _, script in commands} >= {
        "examples/quickstart.py", "examples/fastapi_app.py", "examples/django_app.py",
        "examples/feature_flags.py",
    }  # fmt: skip
    extras = _extras()
    for target, script in commands:
        missing = _third_party_imports(EXAMPLES.parent / script) - extras[target]
        assert not missing, f"{script} imports {missing}, which `pip install -e {target}` lacks"
