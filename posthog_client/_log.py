"""The one logger of the package, plus a guard against repeating the same warning."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Final

__all__ = ["enable_debug_logging", "logger", "warn_once"]

logger: Final = logging.getLogger("posthog_client")
logger.addHandler(logging.NullHandler())

_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` at WARNING the first time ``key`` is seen in this process."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.warning(message, *args)


def enable_debug_logging() -> None:
    """Send the package's log records to stderr at DEBUG level (``debug=True``)."""
    if not any(getattr(h, "_posthog_client_debug", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[posthog_client] %(levelname)s %(message)s"))
        handler._posthog_client_debug = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
