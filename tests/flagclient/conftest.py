"""A backend that answers flag requests as told and records them; checks run on every read."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from posthog_client import Client
from posthog_client._flagclient import app
from posthog_client.testing import MemoryBackend


def v2(values: Mapping[str, bool | str], **extra: Any) -> dict[str, Any]:
    """A v2 /flags answer giving ``values`` (each flag with id 1 and a request id)."""
    flags = {
        key: {
            "key": key,
            "enabled": value is not False,
            "variant": value if isinstance(value, str) else None,
            "reason": {"code": "condition_match", "description": "Matched condition set 1"},
            "metadata": {"id": 1, "version": 2, "payload": extra.pop(f"payload_{key}", None)},
        }
        for key, value in values.items()
    }
    return {"flags": flags, "errorsWhileComputingFlags": False, "requestId": "req-1", **extra}


class FlagsBackend(MemoryBackend):
    """Records events and answers ``/flags`` with ``answer`` (or raises ``error``)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: dict[str, Any] = v2({})
        self.error: Exception | None = None
        self.bodies: list[dict[str, Any]] = []
        self.asked = threading.Event()

    def flags(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.bodies.append(dict(body))
        self.asked.set()
        if self.error is not None:
            raise self.error
        return self.answer


def an_earlier_run(
    make_client: Callable[..., Client], backend: FlagsBackend, **values: Any
) -> None:
    """A run of the app that loads ``values`` into the disk cache and exits."""
    backend.answer = v2(values)
    run = make_client()
    assert run.wait_for_flags(5)
    run.shutdown(0)


@pytest.fixture
def backend() -> FlagsBackend:
    return FlagsBackend()


@pytest.fixture(autouse=True)
def check_on_every_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read looks at what other processes changed at once, not up to a second later."""
    monkeypatch.setattr(app, "_RECHECK_S", 0.0)
