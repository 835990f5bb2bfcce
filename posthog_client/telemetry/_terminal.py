"""What the kit shows the user: the first-run notice (on stderr, or through a GUI's callback)
and, with ``<APP>_TELEMETRY_DEBUG``, each event it would have sent."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

__all__ = ["PrintingBackend", "can_show_notice", "default_notice", "say", "show_notice"]


def can_show_notice(callback: Callable[[str], object] | None) -> bool:
    """A GUI callback can always show it; else only a terminal, on stdin and stderr, can: a
    notice in a log file or a pipe is never read."""
    if callback is not None:
        return True
    try:
        return bool(sys.stdin and sys.stderr and sys.stdin.isatty() and sys.stderr.isatty())
    except (OSError, ValueError):  # a closed stream
        return False


def default_notice(app: str, disable_variable: str) -> str:
    return (
        f"Attention: {app} collects anonymous usage data (telemetry) to improve it; "
        "nothing has been sent yet.\n"
        f"To opt out, run `{app} telemetry disable` or set {disable_variable}=1 "
        "(DO_NOT_TRACK=1 works too)."
    )


def show_notice(text: str, callback: Callable[[str], object] | None) -> None:
    if callback is not None:
        callback(text)
    else:
        print(f"\n{text}\n", file=sys.stderr, flush=True)


def say(app: str, message: str) -> None:
    """One line of debug output."""
    print(f"[{app} telemetry] {message}", file=sys.stderr, flush=True)


class PrintingBackend:
    """Each event as it would be sent, on stderr, instead of sending it."""

    def __init__(self, app: str) -> None:
        self._app = app

    def send(self, batch: Sequence[bytes]) -> None:
        for line in batch:
            say(self._app, line.decode("utf-8", "replace"))

    def close(self) -> None:
        """Nothing to release."""
