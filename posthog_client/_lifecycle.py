"""The lifecycle half of ``Client``: the delivery pipeline built on first use, ``flush``,
``shutdown``, ``stats`` and what a fork without Python's hooks needs."""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._config import Options
from ._delivery.contract import Delivery, FlushResult
from ._fork_safety import lazy_imports
from ._guard import never_raises
from ._identity.session import SessionTracker
from ._identity.state import StateStore

if TYPE_CHECKING:
    from ._hooks import ExceptionHooks

__all__ = ["LifecycleMethods"]


class LifecycleMethods:
    """Mixed into ``Client``; relies on the state ``Client.__init__`` sets up."""

    options: Options
    _store: StateStore
    _sessions: SessionTracker
    _delivery: Delivery | None
    _stopped: Delivery | None  # the pipeline after shutdown, for its final counters
    _lock: threading.Lock
    _pid: int
    _closed: bool
    _refused: dict[str, int]
    _atexit_hook: Callable[[], None]
    _hooks: ExceptionHooks | None
    # Provided by the consent and flag halves of Client (declared, not defined: no MRO clash).
    has_opted_out: Callable[[], bool]
    _close_flags: Callable[[], None]

    def _get_delivery(self) -> Delivery:
        delivery = self._delivery
        if delivery is None:
            self._check_fork()
            with self._lock:
                if self._delivery is None:
                    with lazy_imports():  # deferred: not needed to import; a fork waits for it
                        from ._delivery.build import build_delivery

                    self._delivery = build_delivery(self.options)
                    atexit.register(self._atexit_hook)
                delivery = self._delivery
        return delivery

    @never_raises(FlushResult())
    def flush(self, timeout_s: float | None = None) -> FlushResult:
        """Deliver what is queued, earlier runs' events included, waiting at most ``timeout_s``;
        returns sent/pending/dropped."""
        delivery = self._delivery
        if delivery is None and self.options.persist and not self._closed:
            if self.has_opted_out():
                return FlushResult()
            delivery = self._get_delivery()  # what earlier runs left on disk goes too
        return FlushResult() if delivery is None else delivery.flush(timeout_s)

    @never_raises(FlushResult())
    def shutdown(self, timeout_s: float | None = None) -> FlushResult:
        """Flush within ``timeout_s`` (default ``shutdown_timeout_s``) and stop; idempotent.

        Unsent events stay on disk (persisted mode) for the next process to deliver.
        """
        self._check_fork()
        with self._lock:
            delivery, self._delivery = self._delivery, None
            self._closed = True
            self._stopped = delivery  # stats() keeps its final counters
        self._sessions.flush()  # the next run continues the session from this run's last event
        self._close_flags()
        atexit.unregister(self._atexit_hook)
        if self._hooks is not None:
            self._hooks.uninstall()
        if delivery is None:
            return FlushResult()
        return delivery.shutdown(
            self.options.shutdown_timeout_s if timeout_s is None else timeout_s
        )

    def stats(self) -> dict[str, int]:
        """Counters of sent, retried, pending and dropped events (``dropped_<reason>``)."""
        delivery = self._delivery or self._stopped
        counters = dict(delivery.stats()) if delivery is not None else {}
        for reason, count in self._refused.items():
            counters[f"dropped_{reason}"] = counters.get(f"dropped_{reason}", 0) + count
        return counters

    def _check_fork(self) -> None:
        if self._pid != os.getpid():  # forked without Python's hooks (uwsgi, C extensions)
            self._after_fork()

    def _after_fork(self) -> None:
        # The child starts with fresh locks and no claim on the parent's pipeline.
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._store.after_fork()
