"""Test doubles: record what an app sends instead of sending it, and check who it belongs to.

``Recorder`` keeps every delivered event and resolves persons with the local server's
``PersonEngine``, so a test can check that the events sent before login belong to the user.
``recording()`` installs one for every client of the process, restoring everything afterwards
(the pytest fixture ``posthog_recorder`` wraps it). ``POSTHOG_CLIENT_BACKEND=memory`` makes
every client record into ``process_recorder()``, without code changes.

Example (unittest; with pytest, use the ``posthog_recorder`` fixture)::

    with posthog_client.testing.recording() as recorder:
        posthog_client.init("phc_test")
        posthog_client.capture("file_opened")
        posthog_client.identify("user_42")
        recorder.assert_identified("user_42")
        events = recorder.person("user_42").events
        assert [e["event"] for e in events] == ["file_opened", "$identify"]
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from . import _config, _default
from ._fork_safety import renew_after_fork
from ._recorder import RecordedPerson, Recorder

__all__ = ["MemoryBackend", "RecordedPerson", "Recorder", "process_recorder", "recording"]


class MemoryBackend:
    """A backend that keeps every delivered event (decoded) in memory, in delivery order.

    It answers flag requests with no flags, so nothing reaches the network; a ``Recorder``
    serves flags (``set_flags``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._batches = 0
        self.closed = False

    def send(self, batch: Sequence[bytes]) -> None:
        decoded = [json.loads(item) for item in batch]
        with self._lock:
            self._events.extend(decoded)
            self._batches += 1

    def close(self) -> None:
        self.closed = True

    def flags(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"flags": {}, "errorsWhileComputingFlags": False}

    @property
    def events(self) -> list[dict[str, Any]]:
        """A copy of the events received so far."""
        with self._lock:
            return list(self._events)

    @property
    def batch_count(self) -> int:
        return self._batches

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._batches = 0


_process: Recorder | None = None
_process_lock = threading.Lock()
renew_after_fork(globals(), "_process_lock")


def process_recorder() -> Recorder:
    """The recorder clients use when ``POSTHOG_CLIENT_BACKEND=memory`` (the one ``recording()``
    installed, while it is active)."""
    global _process
    with _process_lock:
        if _process is None:
            _process = Recorder()
        return _process


_config.register_backend("memory", process_recorder)


@contextlib.contextmanager
def recording(
    *, strict: bool = True, storage_dir: str | os.PathLike[str] | None = None
) -> Iterator[Recorder]:
    """Record every client of the process in memory, with nothing sent, inside the block.

    The global client is set aside (``init()`` creates a new one); every ``Client`` created
    inside records into the yielded recorder, with ``strict`` mode and its storage in
    ``storage_dir`` (default: a temporary dir), unless the app passes those options itself.
    ``DO_NOT_TRACK``/``POSTHOG_CLIENT_DISABLED`` are lifted; ``POSTHOG_API_KEY`` defaults to
    ``phc_test``. On exit those clients are shut down and the global client, the environment
    and ``process_recorder()`` are restored.

    Example (unittest; on Python 3.10, which has no ``enterContext``, call ``__enter__()`` and
    ``self.addCleanup(context.__exit__, None, None, None)``)::

        def setUp(self) -> None:
            self.recorder = self.enterContext(posthog_client.testing.recording())
    """
    global _process
    recorder = Recorder()
    with contextlib.ExitStack() as stack:
        if storage_dir is None:
            storage_dir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="posthog_client-", ignore_cleanup_errors=True)
            )
        environ: dict[str, str | None] = {
            "POSTHOG_CLIENT_BACKEND": "memory",
            "POSTHOG_CLIENT_DIR": os.fspath(storage_dir),
            "POSTHOG_CLIENT_STRICT": "1" if strict else "0",
            "DO_NOT_TRACK": None,  # a developer's machine-wide opt-out must not empty the tests
            "POSTHOG_CLIENT_DISABLED": None,
        }
        if not os.environ.get("POSTHOG_API_KEY"):
            environ["POSTHOG_API_KEY"] = "phc_test"
        stack.callback(_set_environ, _set_environ(environ))
        with _process_lock:
            previous_recorder, _process = _process, recorder
        with _default.lock:
            previous_client, _default.client = _default.client, None
        try:
            yield recorder
        finally:
            with _default.lock:
                current, _default.client = _default.client, previous_client
            for client in [*recorder._feeding_clients(), current]:
                if client is not None and client is not previous_client:  # shutdown is idempotent
                    client.shutdown(recorder.flush_timeout_s)
            with _process_lock:
                _process = previous_recorder


def _set_environ(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """Set environment variables (None: remove one); returns their previous values."""
    previous = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return previous
