"""``posthog-client serve`` as a process: startup line, requests, clean stop on Ctrl-C/SIGTERM."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from posthog_client import cli

from . import KEY, event, get_json, post_json

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 15.0


def read_line(process: subprocess.Popen[bytes], deadline: float) -> str:
    """The next stdout line of ``process``, failing once ``deadline`` (monotonic) passes.

    Reads the pipe a byte at a time, so no line waits unseen in a buffer.
    """
    assert process.stdout is not None
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            assert remaining > 0 and selector.select(remaining), "no output before the deadline"
            byte = os.read(process.stdout.fileno(), 1)
            assert byte, f"output ended before a whole line: {line!r}"
            line += byte
    return line.decode()


@contextmanager
def serving(
    args: Sequence[str], module: str = "posthog_client.cli"
) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """Run ``python -m module args``; yield the process, its base URL and its startup line."""
    command = [sys.executable, "-m", module, *args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = read_line(process, time.monotonic() + TIMEOUT_S)
        match = re.search(r"listening on (http://\S+) ", line)
        assert match, f"unexpected startup line {line!r}"
        yield process, match.group(1), line
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=TIMEOUT_S)


def stop(process: subprocess.Popen[bytes], signum: int) -> tuple[int, str, str]:
    process.send_signal(signum)
    out, err = process.communicate(timeout=TIMEOUT_S)
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_starts_answers_and_stops_cleanly(signum: int) -> None:
    with serving(["serve", "--port", "0", "--api-key", KEY]) as (process, url, line):
        assert url.startswith("http://127.0.0.1:")
        explorer = read_line(process, time.monotonic() + TIMEOUT_S)
        assert explorer.strip() == f"posthog-client: person explorer: {url}/"  # no key needed
        assert "in memory" in line and repr(KEY) in line
        assert post_json(url, "/batch/", {"api_key": KEY, "batch": [event("$pageview", "u1")]}) == (
            200,
            {"status": 1},
        )
        assert get_json(url, "/api/persons?distinct_id=u1")[0] == 200
        code, out, err = stop(process, signum)
    assert code == 0
    assert out.strip().endswith("stopped.")
    assert "Traceback" not in err and "POST /batch/" not in err  # quiet unless --verbose


@pytest.mark.slow
def test_serve_prints_the_explorer_and_the_key_it_requires() -> None:
    args = ["serve", "--port", "0", "--personal-api-key", "phx_cli", "--verbose"]
    with serving(args) as (process, url, _):
        deadline = time.monotonic() + TIMEOUT_S
        explorer, notice = read_line(process, deadline), read_line(process, deadline)
        assert explorer.strip() == f"posthog-client: person explorer: {url}/?key=phx_cli"
        assert "require the personal API key" in notice and "Bearer phx_cli" in notice
        assert get_json(url, "/api/persons")[0] == 401
        assert get_json(url, "/api/persons?limit=1&key=phx_cli")[0] == 200
        code, _, err = stop(process, signal.SIGINT)
    assert code == 0
    assert "GET /api/persons?limit=1&key=… " in err and "phx_cli" not in err  # logs hide it


@pytest.mark.slow
def test_python_m_server_with_a_database_file_keeps_data(tmp_path: Path) -> None:
    db = tmp_path / "events.sqlite3"
    args = ["--port", "0", "--db", str(db), "--verbose"]
    with serving(args, module="posthog_client.server") as (process, url, line):
        assert str(db) in line and "phc_local" in line  # the default key
        payload = [event("$pageview", "u1", {"token": "phc_local"})]
        assert post_json(url, "/e/", payload)[0] == 200
        code, _, err = stop(process, signal.SIGINT)
    assert code == 0 and "POST /e/" in err
    with serving(["serve", "--port", "0", "--db", str(db)]) as (process, url, _):
        status, page = get_json(url, "/api/events?distinct_id=u1")
        assert (status, page["count"]) == (200, 1)
        assert stop(process, signal.SIGINT)[0] == 0


@pytest.mark.slow
def test_default_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTHOG_API_KEY", "phc_from_env")
    with serving(["serve", "--port", "0"]) as (process, url, line):
        assert "'phc_from_env'" in line
        body = {"api_key": "phc_local", "batch": [event("$pageview", "u1")]}
        assert post_json(url, "/batch/", body)[0] == 403
        assert stop(process, signal.SIGINT)[0] == 0


def test_port_in_use_exits_with_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    from posthog_client.server import LocalServer

    with LocalServer(KEY) as busy:
        assert cli.main(["serve", "--port", str(busy.port)]) == 1
    assert "cannot listen" in capsys.readouterr().err


def test_unopenable_database_exits_with_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "db.sqlite3"
    assert cli.main(["serve", "--port", "0", "--db", str(missing)]) == 1
    assert "cannot open the database" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["serve", "--port", "70000"], ["serve", "--port", "x"]])
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
