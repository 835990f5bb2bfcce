"""The properties of a ``$exception`` event, in PostHog's error-tracking shape.

``$exception_list`` follows PostHog's Python SDK: the caught (outermost) exception first, each
cause (``__cause__``/``__context__``) or exception-group member after the exception that wraps
it, linked by ``mechanism.exception_id``/``parent_id``. Frames run oldest call first, as in a
traceback. No locals and no source lines: they may hold personal data.
"""

from __future__ import annotations

import builtins
import os
from types import TracebackType
from typing import Any, Final

__all__ = ["exception_properties"]

_MAX_FRAMES = 50
_MAX_EXCEPTIONS = 10
_THIRD_PARTY = ("site-packages", "dist-packages")
_STDLIB: Final = os.path.dirname(os.__file__)
_GROUP: Final = getattr(builtins, "BaseExceptionGroup", ())  # Python 3.11+; () matches nothing


def exception_properties(
    exc: BaseException, *, handled: bool, mechanism: str = "generic"
) -> dict[str, Any]:
    """``$exception_list``, type, message and level of ``exc``. ``mechanism`` says what caught
    it: ``generic`` (the app or a request context), ``excepthook``, ``threading``, ``asyncio``."""
    return {
        "$exception_list": _describe_tree(exc, handled, mechanism),
        "$exception_type": type(exc).__name__,
        "$exception_message": _safe_str(exc),
        "$exception_level": "error",
    }


def _describe_tree(exc: BaseException, handled: bool, mechanism: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    seen: set[int] = set()
    # (exception, parent index, how the parent refers to it), visited depth first
    stack: list[tuple[BaseException, int | None, str]] = [(exc, None, "")]
    while stack and len(entries) < _MAX_EXCEPTIONS:
        current, parent, source = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        index = len(entries)
        if parent is None:
            how = {"type": mechanism, "handled": handled, "synthetic": False, "exception_id": 0}
        else:
            how = {"type": "chained", "handled": handled, "synthetic": False,
                   "exception_id": index, "parent_id": parent, "source": source}  # fmt: skip
        entries.append(_describe(current, how))
        children: list[tuple[BaseException, int | None, str]] = []
        members = getattr(current, "exceptions", None)
        if isinstance(current, _GROUP) and isinstance(members, tuple):
            children += [(m, index, f"exceptions[{i}]") for i, m in enumerate(members)]
        if current.__cause__ is not None:
            children.append((current.__cause__, index, "__cause__"))
        elif current.__context__ is not None and not current.__suppress_context__:
            children.append((current.__context__, index, "__context__"))
        stack.extend(reversed(children))  # the first child is visited next
    return entries


def _describe(exc: BaseException, mechanism: dict[str, Any]) -> dict[str, Any]:
    frames = [_frame(tb) for tb in _tracebacks(exc.__traceback__)]
    return {
        "type": type(exc).__name__,
        "value": _safe_str(exc),
        "module": type(exc).__module__,
        "mechanism": mechanism,
        "stacktrace": {"type": "raw", "frames": frames},
    }


def _tracebacks(tb: TracebackType | None) -> list[TracebackType]:
    """The innermost ``_MAX_FRAMES`` entries of a traceback, oldest call first."""
    found: list[TracebackType] = []
    while tb is not None:
        found.append(tb)
        tb = tb.tb_next
    return found[-_MAX_FRAMES:]


def _frame(tb: TracebackType) -> dict[str, Any]:
    code = tb.tb_frame.f_code
    abs_path = code.co_filename
    module = tb.tb_frame.f_globals.get("__name__")
    module = module if isinstance(module, str) else None
    return {
        "platform": "python",
        "filename": _short_path(abs_path, module),
        "abs_path": abs_path,
        "function": code.co_name,
        "module": module,
        "lineno": tb.tb_lineno,
        "in_app": _in_app(abs_path),
    }


def _short_path(abs_path: str, module: str | None) -> str:
    """The path from the module's top package on (``pkg/sub/mod.py``), as error trackers show."""
    parts = abs_path.replace("\\", "/").split("/")
    if module is None or module == "__main__" or abs_path.startswith("<"):
        return parts[-1]
    depth = module.count(".") + 1 + (parts[-1] == "__init__.py")
    return "/".join(parts[-depth:])


def _in_app(abs_path: str) -> bool:
    """False for the standard library, installed packages and frozen or generated code."""
    if abs_path.startswith(("<", _STDLIB + os.sep)):
        return False
    return not any(marker in abs_path for marker in _THIRD_PARTY)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not cost the event
        return f"<unprintable {type(exc).__name__}>"
