"""The examples run as a newcomer would run them, against the local reference server."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

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


def in_terminal(script: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run an example with stdin, stdout and stderr on a pseudo-terminal, as a user at a
    terminal would; return its exit status and everything it wrote."""
    import pty
    import select

    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / script), *args],
        stdin=child_fd, stdout=child_fd, stderr=child_fd, env={**os.environ, **(env or {})},
    )  # fmt: skip
    os.close(child_fd)
    output, deadline = b"", time.monotonic() + 60
    try:
        while True:
            ready, _, _ = select.select([main_fd], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                process.kill()
                raise AssertionError(f"{script} {args} still running: {output!r}")
            try:
                chunk = os.read(main_fd, 4096)
            except OSError:  # EIO: the terminal's other end is closed, the program is done
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(main_fd)
    return process.wait(timeout=60), output.decode().replace("\r\n", "\n")


def cli_app_env(server: LocalServer, **extra: str) -> dict[str, str]:
    return {"CLI_APP_TELEMETRY_HOST": server.url, **extra}


def files_in(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders if folder.exists() for p in folder.rglob("*"))


@pytest.mark.slow
def test_cli_app_first_run_shows_the_notice_and_sends_nothing_then_the_next_run_sends() -> None:
    with LocalServer() as server:
        code, output = in_terminal("cli_app.py", "add", "buy milk", env=cli_app_env(server))
        assert code == 0 and "added note 1" in output
        assert "Attention: notes collects anonymous usage data" in output
        assert server.engine.events() == []  # the run that shows the notice sends nothing
        code, output = in_terminal("cli_app.py", "add", "call bob", env=cli_app_env(server))
        assert code == 0 and "Attention" not in output  # shown once
        events = sorted(server.engine.events(), key=lambda e: e.timestamp)
        assert [e.event for e in events] == ["command_run", "note_added"]
        assert events[1].properties["length"] == len("call bob")  # the length, never the text
        assert "call bob" not in json.dumps([e.properties for e in events])


@pytest.mark.slow
def test_cli_app_with_do_not_track_writes_nothing_at_all(tmp_path: Path) -> None:
    with LocalServer() as server:
        env = cli_app_env(server, DO_NOT_TRACK="1")
        for command in (["list"], ["whoami"], ["telemetry", "status"]):
            code, output = in_terminal("cli_app.py", *command, env=env)
            assert code == 0 and "Attention" not in output
        assert "DO_NOT_TRACK is set in the environment" in output
        assert server.engine.events() == []
    assert files_in(tmp_path / "xdg-data", tmp_path / "home") == []  # conftest's HOME and data


@pytest.mark.slow
def test_cli_app_telemetry_disable_then_status_explains_and_nothing_is_sent() -> None:
    with LocalServer() as server:
        env = cli_app_env(server)
        assert "disabled. Nothing more will be sent" in run(
            "cli_app.py", "telemetry", "disable", env=env
        )
        status = run("cli_app.py", "telemetry", "status", env=env)
        assert re.match(r"Telemetry is disabled: you turned it off on \d{4}-\d\d-\d\d\.", status)
        assert "run `notes telemetry enable`" in status
        code, output = in_terminal("cli_app.py", "add", "x", env=env)
        assert code == 0 and "Attention" not in output  # no notice for someone who said no
        assert server.engine.events() == []


@pytest.mark.slow
def test_cli_app_debug_variable_prints_events_instead_of_sending() -> None:
    with LocalServer() as server:
        env = {**os.environ, **cli_app_env(server, CLI_APP_TELEMETRY_DEBUG="1")}
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "cli_app.py"), "list"],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert done.returncode == 0
        (line,) = [
            line for line in done.stderr.splitlines() if line.startswith("[cli_app telemetry] {")
        ]
        printed = json.loads(line.split("] ", 1)[1])
        assert (printed["event"], printed["properties"]["command"]) == ("command_run", "list")
        assert server.engine.events() == []


@pytest.mark.slow
def test_cli_app_in_ci_sends_nothing_and_shows_no_notice() -> None:
    with LocalServer() as server:
        code, output = in_terminal("cli_app.py", "add", "x", env=cli_app_env(server, CI="true"))
        assert code == 0 and "Attention" not in output
        assert "this is a CI run (CI is set)" in run(
            "cli_app.py", "telemetry", "status", env=cli_app_env(server, CI="true")
        )
        assert server.engine.events() == []


@pytest.mark.slow
def test_cli_app_login_merges_the_anonymous_history_and_logout_starts_over() -> None:
    with LocalServer() as server:
        env = cli_app_env(server)  # no terminal: no notice, the app's default (on) applies
        run("cli_app.py", "add", "notes.txt", env=env)
        assert "logged in as alice" in run("cli_app.py", "login", "alice", env=env)
        run("cli_app.py", "add", "todo", env=env)
        run("cli_app.py", "logout", env=env)
        run("cli_app.py", "list", env=env)
        events = [e.event for e in server.engine.events("alice")]
        assert events.count("note_added") == 2  # the anonymous one and the logged-in one
        assert {"logged_in", "logged_out"} <= set(events)
        assert events.count("$identify") == 1  # identify at each start while logged in: once
        person = server.engine.person("alice")
        assert person is not None and len(person.distinct_ids) == 2
        after_logout = server.engine.events()[0]  # newest: the `list` after logout
        assert after_logout.properties["command"] == "list"
        assert server.engine.person(after_logout.distinct_id) != person


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


def readme_code(section: str) -> str:
    """The first ``python`` block of the README section titled ``section``."""
    readme = (EXAMPLES.parent / "README.md").read_text()
    body = readme.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return body.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.slow
def test_the_readmes_telemetry_recipe_runs_as_written(tmp_path: Path) -> None:
    with LocalServer() as server:
        code = readme_code("Telemetry in your own CLI")
        code = code.replace('"phc_..."', '"phc_local"').replace(
            '"https://eu.i.posthog.com"', repr(server.url)
        )
        script = tmp_path / "mytool.py"
        script.write_text(code)
        for _ in range(2):  # no terminal here: no notice, the default (on) applies
            subprocess.run([sys.executable, str(script), "build"], check=True, timeout=60)
        status = subprocess.run(
            [sys.executable, str(script), "telemetry", "status"],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        assert status.startswith("Telemetry is enabled.")
        events = server.engine.events()
        assert [e.event for e in events] == ["build_started", "build_started"]
        assert events[0].properties["pages"] == 12 and events[0].properties["$app_name"] == "mytool"


def test_the_readmes_crash_and_before_send_example_runs(tmp_path: Path) -> None:
    code = readme_code("Crashes and `before_send`")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=tmp_path)


def test_the_readmes_mixpanel_example_runs_as_written(tmp_path: Path) -> None:
    script = tmp_path / "mixpanel_story.py"
    script.write_text(readme_code("Sending to Mixpanel"))
    done = subprocess.run(
        [sys.executable, str(script)], check=True, capture_output=True, text=True, timeout=60
    )
    user, rest = done.stdout.split(" ", 1)
    assert user == "sally@gmail.com" and "$device:" in rest and "{'plan': 'free'}" in rest
    assert rest.rstrip().endswith("['Page Viewed', '$identify', 'Identified', 'Signed Up']")
