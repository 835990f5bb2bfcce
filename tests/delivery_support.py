"""Helpers for the delivery tests: hand-made encoded events, a scriptable backend, pipelines."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from posthog_client._config import Options
from posthog_client._delivery.backend import EventResults
from posthog_client._delivery.build import _build_queue
from posthog_client._delivery.queue import Counters
from posthog_client._delivery.worker import Pipeline

API_KEY = "phc_delivery_test"
CHILD = Path(__file__).with_name("delivery_child.py")


def event(i: int = 0, name: str = "e", **properties: Any) -> bytes:
    """One encoded event, as the client would hand it over."""
    return json.dumps(
        {
            "event": name,
            "distinct_id": "user",
            "uuid": str(uuid.uuid4()),
            "timestamp": "2026-01-01T00:00:00.000000+00:00",
            "properties": {"i": i, **properties},
        },
        separators=(",", ":"),
    ).encode()


class ScriptedBackend:
    """Raises the queued exceptions (``None`` = succeed) one per attempt, then succeeds; an
    ``EventResults`` in the script is answered as a server answering per event would (only the
    events it accepts count as delivered).

    ``fail_with`` fails every attempt after the script; ``gate`` makes every send wait for it.
    """

    def __init__(self, *script: Exception | EventResults | None) -> None:
        self.script: deque[Exception | EventResults | None] = deque(script)
        self.fail_with: Exception | None = None
        self.gate: threading.Event | None = None
        self.attempts: list[list[bytes]] = []
        self.delivered: list[list[bytes]] = []
        self.attempted = threading.Event()
        self.received = threading.Event()
        self.closed = False

    def send(self, batch: Sequence[bytes]) -> EventResults | None:
        self.attempts.append(list(batch))
        self.attempted.set()
        if self.gate is not None:
            self.gate.wait(10)
        answer = self.script.popleft() if self.script else self.fail_with
        if isinstance(answer, Exception):
            raise answer
        if answer is not None:
            refused = {*answer.dropped, *answer.retry}
            self.delivered.append([e for i, e in enumerate(batch) if i not in refused])
            return answer
        self.delivered.append(list(batch))
        self.received.set()
        return None

    def close(self) -> None:
        self.closed = True

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(item) for batch in self.delivered for item in batch]


def options(storage: Path, **overrides: Any) -> Options:
    overrides.setdefault("host", "http://127.0.0.1:9")
    return Options(api_key=API_KEY, storage_dir=storage, **overrides)


def make_pipeline(
    storage: Path,
    backend: Any,
    *,
    persist: bool = True,
    threaded: bool = True,
    **overrides: Any,
) -> Pipeline:
    """A pipeline like ``build_delivery`` makes, with millisecond backoff for fast tests."""
    opts = options(storage, backend=backend, persist=persist, **overrides)
    counters = Counters()
    queue = _build_queue(opts, counters)
    return Pipeline(opts, queue, backend, counters, threaded=threaded, backoff_s=0.001)


def run_child(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``delivery_child.py`` with ``args``; fails the test on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, str(CHILD), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result
