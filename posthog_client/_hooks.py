"""A client's hooks into the app and the process: ``before_send`` and exception autocapture.

With ``enable_exception_autocapture=True``, ``ExceptionHooks`` chains ``sys.excepthook``,
``threading.excepthook`` and, when installed from inside a running asyncio loop, that loop's
exception handler. Each hook reports the exception first and then always calls the hook it
replaced, so the traceback, the exit status and any other tool's hook behave as before.
Uninstalling restores the previous hook when ours is still the current one; when something was
chained on top of ours since, ours stays in place but only passes through, so that chain is
never broken.
"""

from __future__ import annotations

import functools
import sys
import threading
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._log import logger

if TYPE_CHECKING:
    import asyncio

    from ._client import Client
    from ._events.before_send import BeforeSend

__all__ = ["ExceptionHooks", "install_hooks"]

Report = Callable[[BaseException, str], None]  # (exception, what caught it)


class ExceptionHooks:
    """Installs and uninstalls the hooks that send unhandled exceptions to ``report``.

    Only ``Exception`` subclasses are reported unless ``include_exits``: ``KeyboardInterrupt``
    and ``SystemExit`` are how programs stop.
    """

    def __init__(self, report: Report, *, include_exits: bool = False) -> None:
        self._report = report
        self._include_exits = include_exits
        self._active = False
        # Bound methods are new objects on every access: keep the ones installed, to compare.
        self._sys_hook = self._on_sys_exception
        self._thread_hook = self._on_thread_exception
        self._loop_hook = self._on_loop_exception
        self._previous_sys = sys.excepthook
        self._previous_thread = threading.excepthook
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_loop: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None
        self._previous_loop = None

    def install(self) -> None:
        if self._active:
            return
        self._previous_sys, sys.excepthook = sys.excepthook, self._sys_hook
        self._previous_thread, threading.excepthook = threading.excepthook, self._thread_hook
        asyncio = sys.modules.get("asyncio")  # never import it: only a running loop matters
        if asyncio is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                self._previous_loop = loop.get_exception_handler()
                loop.set_exception_handler(self._loop_hook)
                self._loop = loop
        self._active = True

    def uninstall(self) -> None:
        if not self._active:
            return
        self._active = False
        if sys.excepthook == self._sys_hook:
            sys.excepthook = self._previous_sys
        if threading.excepthook == self._thread_hook:
            threading.excepthook = self._previous_thread
        loop, self._loop = self._loop, None
        if (
            loop is not None
            and not loop.is_closed()
            and loop.get_exception_handler() == self._loop_hook
        ):
            loop.set_exception_handler(self._previous_loop)

    def _capture(self, exc: BaseException | None, mechanism: str) -> None:
        if not self._active or exc is None:
            return
        if not (self._include_exits or isinstance(exc, Exception)):
            return
        try:
            self._report(exc, mechanism)
        except Exception:  # the application's exception comes first: never break the chain
            logger.warning("unhandled %s not captured", type(exc).__name__, exc_info=True)

    def _on_sys_exception(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        try:
            self._capture(exc, "excepthook")
        finally:
            self._previous_sys(exc_type, exc, tb)

    def _on_thread_exception(self, args: threading.ExceptHookArgs) -> None:
        try:
            self._capture(args.exc_value, "threading")
        finally:
            self._previous_thread(args)

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        try:
            exc = context.get("exception")
            self._capture(exc if isinstance(exc, BaseException) else None, "asyncio")
        finally:
            previous = self._previous_loop
            if previous is None:
                loop.default_exception_handler(context)
            else:
                previous(loop, context)


def install_hooks(
    client: Client, refused: dict[str, int], off: str | None
) -> tuple[BeforeSend | None, ExceptionHooks | None]:
    """The app's ``before_send`` (counting drops in ``refused``), and exception autocapture
    unless ``off`` says why the client sends nothing (the environment, ``disabled=True``)."""
    options = client.options
    before_send = None
    if options.before_send is not None:
        from ._events.before_send import BeforeSend

        before_send = BeforeSend(options.before_send, refused)
    hooks = None
    if options.enable_exception_autocapture and off is None:
        report = functools.partial(_report, weakref.ref(client))
        hooks = ExceptionHooks(report, include_exits=options.exception_autocapture_exits)
        hooks.install()
    return before_send, hooks


def _report(ref: weakref.ref[Client], exc: BaseException, mechanism: str) -> None:
    client = ref()
    if client is not None:
        from ._context import capture_unhandled  # the once-per-exception mark lives there

        capture_unhandled(exc, client, mechanism=mechanism, include_exits=True)
