"""Integration tests: a server-mode client installed by ``init()``, and fresh warning limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import posthog_client
from posthog_client.integrations import _common
from posthog_client.testing import MemoryBackend

Events = Callable[[], list[dict[str, Any]]]


@pytest.fixture(autouse=True)
def fresh_warning_limits() -> Iterator[None]:
    _common._throttle.clear()
    yield
    _common._throttle.clear()


@pytest.fixture
def posthog(backend: MemoryBackend, storage_dir: Path) -> posthog_client.Client:
    """The process-wide client, as a web app sets it up (shut down by the root conftest)."""
    return posthog_client.init("phc_test", backend=backend, mode="server", storage_dir=storage_dir)


@pytest.fixture
def events(backend: MemoryBackend, posthog: posthog_client.Client) -> Events:
    """``events()``: flush the client and return what it delivered."""

    def read() -> list[dict[str, Any]]:
        posthog.flush(5)
        return backend.events

    return read
