"""The one logger of the package, a guard against repeating the same message, and ``clip``,
which keeps caller values and server answers in log lines short."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Final

from ._fork_safety import renew_after_fork

__all__ = ["clip", "clip_repr", "enable_debug_logging", "error_once", "logger", "warn_once"]

logger: Final = logging.getLogger("posthog_client")
logger.addHandler(logging.NullHandler())

CLIP_CHARS: Final = 120  # what a log line shows of a value the SDK did not write itself

_warned: set[str] = set()
_warned_lock = threading.Lock()
renew_after_fork(globals(), "_warned_lock")


def clip(value: object, limit: int = CLIP_CHARS) -> str:
    """The text itself for a ``str``, else ``repr(value)``; cut to about ``limit`` characters."""
    return _cut(value if isinstance(value, str) else _repr(value), limit)


def clip_repr(value: object, limit: int = CLIP_CHARS) -> str:
    """``repr(value)`` (quotes and escapes included, for names), cut like ``clip``."""
    return _cut(_repr(value), limit)


def _repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not break the log line
        return f"<unrepresentable {type(value).__name__}>"


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…(+{len(text) - limit} chars)"


def _first_time(key: str) -> bool:
    with _warned_lock:
        if key in _warned:
            return False
        _warned.add(key)
        return True


def warn_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` at WARNING the first time ``key`` is seen in this process."""
    if _first_time(key):
        logger.warning(message, *args)


def error_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` at ERROR the first time ``key`` is seen in this process."""
    if _first_time(key):
        logger.error(message, *args)


def enable_debug_logging() -> None:
    """Send the package's log records to stderr at DEBUG level (``debug=True``)."""
    if not any(getattr(h, "_posthog_client_debug", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[posthog_client] %(levelname)s %(message)s"))
        handler._posthog_client_debug = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
