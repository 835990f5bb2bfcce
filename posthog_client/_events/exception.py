"""The properties of a ``$exception`` event, in PostHog's error-tracking shape."""

from __future__ import annotations

from typing import Any

__all__ = ["exception_properties"]

_MAX_FRAMES = 50
_MAX_CHAIN = 5


def exception_properties(exc: BaseException, *, handled: bool) -> dict[str, Any]:
    """``$exception_list`` (innermost cause last), type and message. No locals or source lines:
    they may hold personal data."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < _MAX_CHAIN and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return {
        "$exception_list": [_describe(e, handled) for e in reversed(chain)],
        "$exception_type": type(exc).__name__,
        "$exception_message": str(exc),
        "$exception_level": "error",
    }


def _describe(exc: BaseException, handled: bool) -> dict[str, Any]:
    import traceback  # deferred: ~3 ms of import time, needed only when an error is sent

    frames = traceback.extract_tb(exc.__traceback__)[-_MAX_FRAMES:]
    return {
        "type": type(exc).__name__,
        "value": str(exc),
        "module": type(exc).__module__,
        "mechanism": {"type": "generic", "handled": handled, "synthetic": False},
        "stacktrace": {
            "type": "raw",
            "frames": [
                {
                    "platform": "python",
                    "filename": frame.filename,
                    "abs_path": frame.filename,
                    "function": frame.name,
                    "lineno": frame.lineno,
                    "in_app": "site-packages" not in frame.filename,
                }
                for frame in frames
            ],
        },
    }
