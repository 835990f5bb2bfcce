"""A ``Telemetry`` per test, recording into memory, its folder in the test's tmp dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from posthog_client.telemetry import Telemetry
from posthog_client.testing import MemoryBackend

MakeTelemetry = Callable[..., Telemetry]


@pytest.fixture
def notices() -> list[str]:
    """The notices shown through the GUI callback of ``make_telemetry``'s instances."""
    return []


@pytest.fixture
def make_telemetry(
    backend: MemoryBackend, tmp_path: Path, notices: list[str]
) -> Iterator[MakeTelemetry]:
    """``make_telemetry(**options)``: one run of the app ``mytool`` (call again for the next)."""
    made: list[Telemetry] = []

    def make(**options: Any) -> Telemetry:
        options.setdefault("api_key", "phc_tool")
        options.setdefault("backend", backend)
        options.setdefault("data_dir", tmp_path / "mytool-telemetry")
        options.setdefault("show_notice", notices.append)
        telemetry = Telemetry("mytool", **options)
        made.append(telemetry)
        return telemetry

    yield make
    for telemetry in made:
        telemetry.shutdown(0)
