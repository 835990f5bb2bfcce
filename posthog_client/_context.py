"""Request-scoped identity for backend services (identity-spec §1g, R37–R39).

A context carries the distinct id, session id and tags of one unit of work (a request, a job).
It lives in a ``ContextVar``, so threads and asyncio tasks each see their own, a task started
inside a context inherits it, and sibling requests never see each other's ids.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from ._log import warn_once

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "RequestContext",
    "current_context",
    "identify_context",
    "new_context",
    "set_context_session",
    "tag",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RequestContext:
    """What events captured inside a context are stamped with."""

    distinct_id: str | None = None
    session_id: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    capture_exceptions: bool = True
    client: Client | None = None


_current: ContextVar[RequestContext | None] = ContextVar("posthog_client.context", default=None)


def current_context() -> RequestContext | None:
    """The innermost active context of this thread or task, or None."""
    return _current.get()


class new_context(contextlib.ContextDecorator):
    """Open a context for one unit of work (usable as ``with`` block and as decorator).

    It inherits the enclosing context's distinct id, session id and tags unless ``fresh=True``.
    An exception escaping it is captured as a ``$exception`` event (unless
    ``capture_exceptions=False``) and re-raised unchanged. ``client`` defaults to the client
    created by ``init()``.

    Example::

        with posthog_client.new_context():
            posthog_client.identify_context("user_42")
            posthog_client.capture("order_paid")
    """

    def __init__(
        self, *, fresh: bool = False, capture_exceptions: bool = True, client: Client | None = None
    ) -> None:
        self._fresh = fresh
        self._capture_exceptions = capture_exceptions
        self._client = client
        self._tokens: list[Any] = []

    def __enter__(self) -> RequestContext:
        parent = None if self._fresh else _current.get()
        base = parent or RequestContext()
        context = replace(
            base,
            tags=dict(base.tags),
            capture_exceptions=self._capture_exceptions,
            client=self._client or base.client,
        )
        self._tokens.append(_current.set(context))
        return context

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        context = _current.get()
        try:
            if exc is not None and context is not None and context.capture_exceptions:
                _capture_exception(context, exc)
        finally:
            _current.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self._recreate_cm():
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]
        return super().__call__(func)


def _update(operation: str, **changes: Any) -> None:
    context = _current.get()
    if context is None:
        warn_once(
            f"no-context-{operation}", "%s() called outside new_context(); ignored", operation
        )
        return
    _current.set(replace(context, **changes))


def identify_context(distinct_id: str) -> None:
    """Attribute the events of the current context to ``distinct_id``."""
    _update("identify_context", distinct_id=distinct_id)


def set_context_session(session_id: str) -> None:
    """Stamp the events of the current context with ``session_id`` (e.g. the frontend's)."""
    _update("set_context_session", session_id=session_id)


def tag(key: str, value: Any) -> None:
    """Add ``key: value`` to the properties of every event of the current context."""
    context = _current.get()
    _update("tag", tags={**(context.tags if context else {}), key: value})


def _capture_exception(context: RequestContext, exc: BaseException) -> None:
    from ._api import get_client  # the module-level client, looked up when needed
    from ._exception_event import exception_properties

    client = context.client or get_client()
    if client is not None:
        client.capture("$exception", exception_properties(exc, handled=False))
