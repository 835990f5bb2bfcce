"""Request-scoped identity for backend services (identity-spec §1g, R37–R39): the data.

A context carries the distinct id, session id and tags of one unit of work (a request, a job).
The innermost one lives in a ``ContextVar``, so every thread and asyncio task sees its own:
sibling requests each open one and never see each other's ids. Code that runs in a copy of the
request's contextvars (a child task, ``asyncio.to_thread``, a framework's thread pool) shares the
request's context object, so ``identify_context()`` called there still applies to the request;
work that must not share it (a job that outlives the request) opens its own ``new_context()``
(``posthog_client._context``, which opens and closes them).
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

from .._log import warn_once
from .ids import illegal_id_reason

if TYPE_CHECKING:
    from .._client import Client

__all__ = [
    "RequestContext",
    "context_var",
    "current_context",
    "identify_context",
    "set_context_session",
    "tag",
]


class RequestContext:
    """What events captured inside one ``new_context()`` are stamped with.

    Mutable on purpose (see the module docstring). ``tags`` and ``groups`` (``group()``: type
    to key) are replaced, never changed in place, so a reader holding the previous dict never
    sees it change under it.
    """

    __slots__ = ("capture_exceptions", "client", "distinct_id", "groups", "session_id", "tags")

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
        self.groups: dict[str, str] = parent.groups if parent else {}  # replaced, like tags
        self.capture_exceptions = capture_exceptions
        self.client = client


context_var: ContextVar[RequestContext | None] = ContextVar("posthog_client.context", default=None)


# The innermost active context of this thread or task, or None. The bound method itself, not a
# wrapper: capture() asks on every event.
current_context: Final = context_var.get


def _active(operation: str) -> RequestContext | None:
    context = context_var.get()
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


def _forget_after_fork() -> None:
    # R37: the child process of a fork() starts with no context.
    context_var.set(None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
