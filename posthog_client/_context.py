"""Request-scoped identity for backend services (identity-spec §1g, R37–R39).

A context carries the distinct id, session id and tags of one unit of work (a request, a job).
The innermost one lives in a ``ContextVar``, so every thread and asyncio task sees its own:
sibling requests each open one and never see each other's ids. Code that runs in a copy of the
request's contextvars (a child task, ``asyncio.to_thread``, a framework's thread pool) shares the
request's context object, so ``identify_context()`` called there still applies to the request;
work that must not share it (a job that outlives the request) opens its own ``new_context()``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ._ids import illegal_id_reason
from ._log import logger, warn_once

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "RequestContext",
    "capture_unhandled",
    "current_context",
    "identify_context",
    "new_context",
    "set_context_session",
    "tag",
]

F = TypeVar("F", bound=Callable[..., Any])

# Set on an exception once captured, so one that escapes nested contexts is sent once.
_CAPTURED_MARK: Final = "__posthog_client_captured__"


class RequestContext:
    """What events captured inside one ``new_context()`` are stamped with.

    Mutable on purpose (see the module docstring). ``tags`` is replaced, never changed in
    place, so a reader holding the previous dict never sees it change under it.
    """

    __slots__ = ("capture_exceptions", "client", "distinct_id", "session_id", "tags")

    def __init__(
        self,
        parent: RequestContext | None,
        *,
        capture_exceptions: bool,
        client: Client | None,
    ) -> None:
        self.distinct_id: str | None = parent.distinct_id if parent else None
        self.session_id: str | None = parent.session_id if parent else None
        self.tags: dict[str, Any] = parent.tags if parent else {}
        self.capture_exceptions = capture_exceptions
        self.client = client


_current: ContextVar[RequestContext | None] = ContextVar("posthog_client.context", default=None)


# The innermost active context of this thread or task, or None. The bound method itself, not a
# wrapper: capture() asks on every event.
current_context: Final = _current.get


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
        enclosing = _current.get()
        context = RequestContext(
            None if self._fresh else enclosing,
            capture_exceptions=self._capture_exceptions,
            client=self._client or (enclosing.client if enclosing else None),
        )
        self._entered.append((_current.set(context), context))

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
            _current.reset(token)

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


def _active(operation: str) -> RequestContext | None:
    context = _current.get()
    if context is None:
        warn_once(
            f"no-context-{operation}", "%s() called outside new_context(); ignored", operation
        )
    return context


def identify_context(distinct_id: str) -> None:
    """Attribute the events of the current context to ``distinct_id`` (e.g. the frontend's).

    An integer (a database primary key) is turned into its string. Ids PostHog refuses (empty,
    placeholders such as ``"null"``, longer than 200 characters) are ignored with a warning, and
    the context keeps its previous id.
    """
    context = _active("identify_context")
    if context is None:
        return
    if isinstance(distinct_id, int) and not isinstance(distinct_id, bool):
        distinct_id = str(distinct_id)
    reason = illegal_id_reason(distinct_id)
    if reason is not None:
        warn_once(f"identify_context-{reason}", "identify_context() ignored: %s", reason)
        return
    context.distinct_id = distinct_id


def set_context_session(session_id: str) -> None:
    """Stamp the events of the current context with ``$session_id`` (e.g. the frontend's)."""
    context = _active("set_context_session")
    if context is None:
        return
    if not isinstance(session_id, str) or not session_id.strip():
        warn_once("set_context_session-empty", "set_context_session() ignored: empty session id")
        return
    context.session_id = session_id


def tag(key: str, value: Any) -> None:
    """Add ``key: value`` to the properties of every later event of the current context.

    Properties passed to ``capture`` win over tags; the tag names are listed in
    ``$context_tags``.
    """
    context = _active("tag")
    if context is not None:
        context.tags = {**context.tags, key: value}


def capture_unhandled(exc: BaseException, client: Client | None) -> None:
    """Send ``exc`` as an unhandled ``$exception`` under the current context, at most once.

    Only ``Exception`` counts: ``KeyboardInterrupt``, ``SystemExit`` and task cancellation are
    how programs stop, not errors. Never raises, so the caller can re-raise ``exc`` unchanged.
    """
    if not isinstance(exc, Exception) or getattr(exc, _CAPTURED_MARK, False):
        return
    try:
        setattr(exc, _CAPTURED_MARK, True)
    except AttributeError:  # an exception type with __slots__: it may be captured twice
        pass
    if client is None:
        from ._api import get_client  # deferred: _api imports _client, which imports us

        client = get_client()
    if client is None:
        return
    from ._exception_event import exception_properties

    try:
        client.capture("$exception", exception_properties(exc, handled=False))
    except Exception as error:  # strict mode raises; the application's exception comes first
        logger.warning("unhandled %s not captured: %s", type(exc).__name__, error)


def _forget_after_fork() -> None:
    # R37: the child process of a fork() starts with no context.
    _current.set(None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
