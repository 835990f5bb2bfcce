"""Opening and closing request contexts: ``new_context()`` and the capture of the exceptions
that escape them. What a context holds is in ``_identity.context``."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar

from . import _default
from ._events.exception import exception_properties
from ._identity.context import RequestContext, context_var
from ._log import logger

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["capture_unhandled", "new_context"]

F = TypeVar("F", bound=Callable[..., Any])

# Set on an exception once captured, so one that escapes nested contexts is sent once.
_CAPTURED_MARK: Final = "__posthog_client_captured__"


class new_context(contextlib.ContextDecorator):
    """Open a context for one unit of work: a ``with`` block, or a decorator (sync or async).

    Events captured inside it use its distinct id (``identify_context``) and session id
    (``set_context_session``), carry its tags (``tag``) and ``$is_server``, and never use the
    on-disk identity; an explicit ``capture(..., distinct_id=...)`` still wins. Without a
    distinct id its events are personless. It starts with the enclosing context's ids and tags
    unless ``fresh=True``. An exception escaping it is captured once as a ``$exception`` event
    (unless ``capture_exceptions=False``) and re-raised unchanged. ``client`` receives those
    exceptions; it defaults to the enclosing context's, else the client ``init()`` created.

    Example::

        with posthog_client.new_context():
            posthog_client.identify_context("user_42")
            posthog_client.capture("order_paid")  # distinct_id "user_42"
    """

    def __init__(
        self, *, fresh: bool = False, capture_exceptions: bool = True, client: Client | None = None
    ) -> None:
        self._fresh = fresh
        self._capture_exceptions = capture_exceptions
        self._client = client
        self._entered: list[tuple[Token[RequestContext | None], RequestContext]] = []

    def __enter__(self) -> None:
        enclosing = context_var.get()
        context = RequestContext(
            None if self._fresh else enclosing,
            capture_exceptions=self._capture_exceptions,
            client=self._client or (enclosing.client if enclosing else None),
        )
        self._entered.append((context_var.set(context), context))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token, context = self._entered.pop()
        try:
            if exc is not None and context.capture_exceptions:
                capture_unhandled(exc, context.client)
        finally:
            context_var.reset(token)

    def _recreate_cm(self) -> new_context:
        # One instance per call: concurrent calls of a decorated function must not share the
        # token stack of the decorator's instance.
        return new_context(
            fresh=self._fresh, capture_exceptions=self._capture_exceptions, client=self._client
        )

    def __call__(self, func: F) -> F:
        import inspect  # deferred: a costly import, needed only by decorators

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self._recreate_cm():
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]
        return super().__call__(func)


def capture_unhandled(
    exc: BaseException,
    client: Client | None,
    *,
    mechanism: str = "generic",
    include_exits: bool = False,
) -> None:
    """Send ``exc`` as an unhandled ``$exception`` under the current context, at most once.

    Only ``Exception`` counts unless ``include_exits``: ``KeyboardInterrupt``, ``SystemExit`` and
    task cancellation are how programs stop, not errors. ``mechanism`` names what caught it.
    Never raises, so the caller can re-raise ``exc`` unchanged.
    """
    if not (include_exits or isinstance(exc, Exception)) or getattr(exc, _CAPTURED_MARK, False):
        return
    try:
        setattr(exc, _CAPTURED_MARK, True)
    except AttributeError:  # an exception type with __slots__: it may be captured twice
        pass
    if client is None:
        client = _default.client
    if client is None:
        return
    try:
        client.capture("$exception", exception_properties(exc, handled=False, mechanism=mechanism))
    except Exception as error:  # strict mode raises; the application's exception comes first
        logger.warning("unhandled %s not captured: %s", type(exc).__name__, error)
