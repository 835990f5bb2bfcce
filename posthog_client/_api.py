"""The process-wide client behind the module-level functions (``posthog_client.capture`` …)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._client import Client
from ._delivery import FlushResult
from ._fork_safety import renew_after_fork
from ._log import warn_once

if TYPE_CHECKING:
    import datetime as dt
    from uuid import UUID

__all__ = [
    "alias",
    "capture",
    "capture_exception",
    "flush",
    "get_client",
    "get_device_id",
    "get_distinct_id",
    "get_session_id",
    "has_opted_out",
    "identify",
    "init",
    "is_identified",
    "merge_dangerously",
    "opt_in",
    "opt_out",
    "register",
    "register_once",
    "reset",
    "set_person_properties",
    "shutdown",
    "unregister",
    "unset_person_properties",
]

_client: Client | None = None
_lock = threading.Lock()
renew_after_fork(globals(), "_lock")


def init(api_key: str | None = None, **options: Any) -> Client:
    """Create the process-wide client (see ``Client`` for the options) and return it.

    Calling ``init`` again replaces the client; the previous one is shut down.
    """
    global _client
    client = Client(api_key, **options)
    with _lock:
        previous, _client = _client, client
    if previous is not None:
        previous.shutdown()
    return client


def get_client() -> Client | None:
    """The client ``init`` created, or None before ``init``."""
    return _client


def _current(function: str) -> Client | None:
    client = _client
    if client is None:
        warn_once("not-initialized", "posthog_client.%s() called before init(); ignored", function)
    return client


def capture(
    event: str,
    properties: Mapping[str, Any] | None = None,
    *,
    distinct_id: str | None = None,
    timestamp: dt.datetime | str | float | None = None,
    uuid: str | UUID | None = None,
) -> str | None:
    c = _current("capture")
    if c is None:
        return None
    return c.capture(event, properties, distinct_id=distinct_id, timestamp=timestamp, uuid=uuid)


def capture_exception(
    exception: BaseException | None = None,
    properties: Mapping[str, Any] | None = None,
    *,
    distinct_id: str | None = None,
) -> str | None:
    c = _current("capture_exception")
    return (
        None if c is None else c.capture_exception(exception, properties, distinct_id=distinct_id)
    )


def identify(
    distinct_id: str,
    properties: Mapping[str, Any] | None = None,
    *,
    set_once: Mapping[str, Any] | None = None,
) -> bool:
    c = _current("identify")
    return c is not None and c.identify(distinct_id, properties, set_once=set_once)


def alias(alias_id: str) -> bool:
    c = _current("alias")
    return c is not None and c.alias(alias_id)


def merge_dangerously(other_distinct_id: str) -> bool:
    c = _current("merge_dangerously")
    return c is not None and c.merge_dangerously(other_distinct_id)


def reset(reset_device_id: bool = False) -> None:
    if c := _current("reset"):
        c.reset(reset_device_id)


def get_distinct_id() -> str:
    c = _current("get_distinct_id")
    return c.get_distinct_id() if c else ""


def get_device_id() -> str:
    c = _current("get_device_id")
    return c.get_device_id() if c else ""


def get_session_id() -> str:
    c = _current("get_session_id")
    return c.get_session_id() if c else ""


def is_identified() -> bool:
    c = _current("is_identified")
    return c is not None and c.is_identified()


def register(properties: Mapping[str, Any]) -> None:
    if c := _current("register"):
        c.register(properties)


def register_once(properties: Mapping[str, Any], default_value: Any = None) -> None:
    if c := _current("register_once"):
        c.register_once(properties, default_value)


def unregister(key: str) -> None:
    if c := _current("unregister"):
        c.unregister(key)


def set_person_properties(
    set: Mapping[str, Any] | None = None,  # mirrors PostHog's $set
    set_once: Mapping[str, Any] | None = None,
) -> None:
    if c := _current("set_person_properties"):
        c.set_person_properties(set, set_once)


def unset_person_properties(names: str | Iterable[str]) -> None:
    if c := _current("unset_person_properties"):
        c.unset_person_properties(names)


def opt_out() -> None:
    if c := _current("opt_out"):
        c.opt_out()


def opt_in() -> None:
    if c := _current("opt_in"):
        c.opt_in()


def has_opted_out() -> bool:
    c = _current("has_opted_out")
    return c is None or c.has_opted_out()


def flush(timeout_s: float | None = None) -> FlushResult:
    c = _current("flush")
    return c.flush(timeout_s) if c else FlushResult()


def shutdown(timeout_s: float | None = None) -> FlushResult:
    c = _current("shutdown")
    return c.shutdown(timeout_s) if c else FlushResult()


def _copy_docs() -> None:
    # One docstring per operation, kept on the Client method.
    for name in __all__:
        method = getattr(Client, name, None)
        if method is not None:
            globals()[name].__doc__ = method.__doc__


_copy_docs()
