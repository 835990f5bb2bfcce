"""What every framework integration does with a request, whatever the framework.

Inside the request's ``new_context()``: tag the request, take the session id and the distinct id
from the frontend's tracing headers, else the distinct id from the app's fallback (the logged-in
user). Header values come from the network: a bad one is ignored with a rate-limited WARNING
and never fails the request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from .._identity.context import identify_context, set_context_session, tag
from .._linking import DISTINCT_ID_HEADER, SESSION_ID_HEADER, untrusted_id_problem
from .._log import logger

__all__ = [
    "DISTINCT_ID_HEADER",
    "SESSION_ID_HEADER",
    "RequestInfo",
    "begin_request",
    "identify_user",
    "identify_value",
    "user_id_failed",
]

_WARNING_INTERVAL_S: Final = 60.0

R = TypeVar("R")


@dataclass(frozen=True)
class RequestInfo:
    """The parts of a request the integrations read, taken from the framework's request."""

    url: str
    path: str
    method: str | None
    user_agent: str | None
    ip: str | None
    distinct_id_header: str | None
    session_id_header: str | None


class _Throttle:
    """At most one WARNING per key and interval, counting the ones it held back."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warn(self, key: str, message: str, *args: object) -> None:
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval_s:
                self._held[key] = self._held.get(key, 0) + 1
                return
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            message, args = f"{message} (and %d more since the last warning)", (*args, held)
        logger.warning(message, *args)

    def clear(self) -> None:
        with self._lock:
            self._last.clear()
            self._held.clear()


_throttle = _Throttle(_WARNING_INTERVAL_S)  # keys: the two header names and "user_id"


def _clean(value: object, source: str) -> str | None:
    """``value`` as an id, or None when absent or (with a warning) unusable."""
    if value is None:
        return None
    # Only HTTP's own whitespace (space, tab) is trimmed; control characters (NEL…) are refused.
    text = (value if isinstance(value, str) else str(value)).strip(" \t")
    if not text:
        return None
    problem = untrusted_id_problem(text)
    if problem is not None:
        _throttle.warn(source, "ignored the id from %s: %s", source, problem)
        return None
    return text


def begin_request(request: RequestInfo, *, capture_ip: bool) -> bool:
    """Tag the current context with ``request`` and take its ids from the tracing headers.

    Returns True when the distinct id came from a header, so no fallback is needed.
    """
    tag("$current_url", request.url)
    tag("$request_path", request.path)
    if request.method:
        tag("$request_method", request.method)
    if request.user_agent:
        tag("$user_agent", request.user_agent)
    if capture_ip and request.ip:
        tag("$ip", request.ip)
    session_id = _clean(request.session_id_header, SESSION_ID_HEADER)
    if session_id is not None:
        set_context_session(session_id)
    distinct_id = _clean(request.distinct_id_header, DISTINCT_ID_HEADER)
    if distinct_id is not None:
        identify_context(distinct_id)
    return distinct_id is not None


def identify_user(get_user_id: Callable[[R], object], request: R) -> None:
    """Identify the current context with ``get_user_id(request)`` when it names a user."""
    try:
        value = get_user_id(request)
    except Exception as exc:
        user_id_failed(exc)
        return
    identify_value(value)


def identify_value(value: object) -> None:
    """Identify the current context with a user id from the app's fallback, if usable."""
    distinct_id = _clean(value, "user_id")
    if distinct_id is not None:
        identify_context(distinct_id)


def user_id_failed(exc: Exception) -> None:
    """The app's user id callable raised: the request goes on without a distinct id."""
    _throttle.warn(
        "user_id", "the user_id callable raised %s; request not identified", type(exc).__name__
    )
