"""Every test gets its own storage dir and a clean environment; no client outlives its test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import posthog_client
from posthog_client import _default, _log
from posthog_client.telemetry import CI_VARIABLES
from posthog_client.testing import MemoryBackend

API_KEY = "phc_test_key"


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):  # a CI run must not look like one to the code under test
        if name.startswith("POSTHOG_") or name in ("DO_NOT_TRACK", *CI_VARIABLES):
            monkeypatch.delenv(name)
    # Anything that escapes storage_dir lands in the test's tmp dir, never the real home.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield
    client = _default.client
    if client is not None:
        client.shutdown(0)
        _default.client = None
    _log._warned.clear()


@pytest.fixture
def storage_dir(tmp_path: Path) -> Path:
    return tmp_path / "storage"


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def make_client(
    backend: MemoryBackend, storage_dir: Path
) -> Iterator[Callable[..., posthog_client.Client]]:
    """Build clients that record into ``backend`` and share ``storage_dir``, like processes."""
    clients: list[posthog_client.Client] = []

    def make(**options: Any) -> posthog_client.Client:
        options.setdefault("backend", backend)
        options.setdefault("storage_dir", storage_dir)
        client = posthog_client.Client(API_KEY, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(0)


@pytest.fixture
def client(make_client: Callable[..., posthog_client.Client]) -> posthog_client.Client:
    return make_client()


@pytest.fixture
def sent(backend: MemoryBackend) -> Callable[[posthog_client.Client], list[dict[str, Any]]]:
    """``sent(client)``: flush ``client`` and return every event the backend received."""

    def read(client: posthog_client.Client) -> list[dict[str, Any]]:
        client.flush(5)
        return backend.events

    return read


class Clock:
    """A controllable wall clock for session rules (patched into the client modules)."""

    def __init__(self, start_ms: int = 1_790_000_000_000) -> None:
        self.ms = start_ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)

    def __call__(self) -> tuple[str, int]:
        import datetime as dt

        moment = dt.datetime.fromtimestamp(self.ms / 1000, tz=dt.timezone.utc)
        return moment.isoformat(timespec="microseconds"), self.ms


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("posthog_client._client.now_timestamp", fake)
    monkeypatch.setattr("posthog_client._identity.methods.now_timestamp", fake)
    return fake
