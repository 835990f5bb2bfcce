"""Background loads of an app's flags (C5): debounced, one at a time, never on the caller.

``request()`` asks for a load and returns a ticket; requests that arrive while a load runs are
served by one more load afterwards. A thread exists only while loads are wanted (none before
the first flag use, none when idle), so a CLI that never reads a flag never starts one.
``wait(ticket, timeout_s)`` returns once a load that began after the request has finished.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Final

from .._log import logger

__all__ = ["Loader"]

DEBOUNCE_S: Final = 0.005  # calls this close together (identify, then group) make one request


class Loader:
    def __init__(self, load: Callable[[], None]) -> None:
        self._load = load
        self._cond = threading.Condition()
        self._requested = 0
        self._completed = 0
        self._running = False
        self._closed = False
        self._pid = os.getpid()

    def request(self) -> int:
        """Ask for a load; returns the ticket to ``wait`` for."""
        with self._cond:
            if self._pid != os.getpid():  # forked: the parent's thread does not exist here
                self._pid, self._running = os.getpid(), False
            self._requested += 1
            ticket = self._requested
            if not self._running and not self._closed:
                thread = threading.Thread(
                    target=self._run, name="posthog_client.flags", daemon=True
                )
                try:
                    thread.start()
                    self._running = True
                except RuntimeError as exc:  # interpreter shutting down
                    logger.debug("flag load not started: %s", exc)
                    self._completed = ticket
            elif self._closed:
                self._completed = ticket
            return ticket

    def after_fork(self) -> None:
        """In a forked child: no thread, no waiter, a fresh lock."""
        self._cond = threading.Condition()
        self._pid, self._running = os.getpid(), False
        self._completed = self._requested

    def pending(self) -> int | None:
        """The ticket of the loads asked for and not finished yet, or None."""
        with self._cond:
            return self._requested if self._requested > self._completed else None

    def wait(self, ticket: int, timeout_s: float | None) -> bool:
        """Whether a load covering ``ticket`` finished within ``timeout_s``."""
        with self._cond:
            return self._cond.wait_for(lambda: self._completed >= ticket, timeout_s)

    def close(self, wait_s: float = 0.0) -> None:
        """No more loads; a load under way gets ``wait_s`` to finish, then waiters are
        released."""
        with self._cond:
            if self._running and self._pid == os.getpid():
                target = self._requested
                self._cond.wait_for(lambda: self._completed >= target, wait_s)
            self._closed = True
            self._completed = self._requested
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            time.sleep(DEBOUNCE_S)
            with self._cond:
                target = self._requested
                if target <= self._completed or self._closed:
                    self._running = False
                    return
            try:
                self._load()
            except Exception:
                logger.exception("posthog_client: internal error while loading flags")
            with self._cond:
                self._completed = max(self._completed, target)
                self._cond.notify_all()
