"""The process-wide client behind the module-level functions (``posthog_client.capture`` …)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from . import _default
from ._client import Client
from ._delivery.contract import FlushResult
from ._identity.consent import ConsentStatus
from ._log import warn_once

if TYPE_CHECKING:
    import datetime as dt
    from uuid import UUID

__all__ = [
    "alias",
    "capture",
    "capture_exception",
    "consent_status",
    "feature_enabled",
    "flush",
    "get_all_flags",
    "get_client",
    "get_device_id",
    "get_distinct_id",
    "get_feature_flag",
    "get_feature_flag_payload",
    "get_remote_config_payload",
    "get_session_id",
    "group",
    "has_opted_out",
    "identify",
    "init",
    "is_identified",
    "merge_dangerously",
    "on_feature_flags",
    "opt_in",
    "opt_out",
    "override_feature_flags",
    "register",
    "register_once",
    "reload_feature_flags",
    "reset",
    "set_person_properties",
    "shutdown",
    "unregister",
    "unset_person_properties",
    "wait_for_flags",
]

P = ParamSpec("P")
R = TypeVar("R")


def _with_signature_of(
    constructor: Callable[P, Client],
) -> Callable[[Callable[..., Client]], Callable[P, Client]]:
    """Give ``init`` the parameters of ``Client`` for type checkers and editors, so the options
    are declared once, on ``Client.__init__``."""

    def decorate(function: Callable[..., Client]) -> Callable[P, Client]:
        return function

    return decorate


@_with_signature_of(Client)
def init(*args: Any, **kwargs: Any) -> Client:
    """Create the process-wide client (see ``Client`` for the options) and return it.

    Calling ``init`` again replaces the client; the previous one is shut down.
    """
    client = Client(*args, **kwargs)
    with _default.lock:
        previous, _default.client = _default.client, client
    if previous is not None:
        previous.shutdown()
    return client


def get_client() -> Client | None:
    """The client ``init`` created, or None before ``init``."""
    return _default.client


def _current(function: str) -> Client | None:
    client = _default.client
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
    groups: Mapping[str, str | int] | None = None,
    send_feature_flags: bool = False,
) -> str | None:
    c = _current("capture")
    if c is None:
        return None
    return c.capture(
        event,
        properties,
        distinct_id=distinct_id,
        timestamp=timestamp,
        uuid=uuid,
        groups=groups,
        send_feature_flags=send_feature_flags,
    )


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


def alias(alias_id: str, *, distinct_id: str | None = None) -> bool:
    c = _current("alias")
    return c is not None and c.alias(alias_id, distinct_id=distinct_id)


def merge_dangerously(other_distinct_id: str, *, distinct_id: str | None = None) -> bool:
    c = _current("merge_dangerously")
    return c is not None and c.merge_dangerously(other_distinct_id, distinct_id=distinct_id)


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
    *,
    distinct_id: str | None = None,
) -> None:
    if c := _current("set_person_properties"):
        c.set_person_properties(set, set_once, distinct_id=distinct_id)


def unset_person_properties(names: str | Iterable[str], *, distinct_id: str | None = None) -> None:
    if c := _current("unset_person_properties"):
        c.unset_person_properties(names, distinct_id=distinct_id)


def opt_out() -> None:
    if c := _current("opt_out"):
        c.opt_out()


def opt_in() -> bool:
    c = _current("opt_in")
    return c is not None and c.opt_in()


def consent_status() -> ConsentStatus:
    c = _current("consent_status")
    if c is None:
        return ConsentStatus(False, "posthog_client.init() was not called")
    return c.consent_status()


def has_opted_out() -> bool:
    c = _current("has_opted_out")
    return c is None or c.has_opted_out()


def flush(timeout_s: float | None = None) -> FlushResult:
    c = _current("flush")
    return c.flush(timeout_s) if c else FlushResult()


def shutdown(timeout_s: float | None = None) -> FlushResult:
    c = _current("shutdown")
    return c.shutdown(timeout_s) if c else FlushResult()


def _delegate(method: Callable[Concatenate[Client, P], R], default: R) -> Callable[P, R]:
    """A module-level function calling ``method`` on the client ``init`` created (``default``
    before ``init``), with the method's parameters for type checkers and editors."""
    name = method.__name__

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        client = _current(name)
        return default if client is None else method(client, *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


# Feature flags and groups (see Client): the parameters are declared once, on the methods.
feature_enabled = _delegate(Client.feature_enabled, None)
get_feature_flag = _delegate(Client.get_feature_flag, None)
get_feature_flag_payload = _delegate(Client.get_feature_flag_payload, None)
get_all_flags = _delegate(Client.get_all_flags, {})
get_remote_config_payload = _delegate(Client.get_remote_config_payload, None)
reload_feature_flags = _delegate(Client.reload_feature_flags, None)
wait_for_flags = _delegate(Client.wait_for_flags, False)
on_feature_flags = _delegate(Client.on_feature_flags, lambda: None)
override_feature_flags = _delegate(Client.override_feature_flags, None)
group = _delegate(Client.group, None)


def _copy_docs() -> None:
    # One docstring per operation, kept on the Client method.
    for name in __all__:
        method = getattr(Client, name, None)
        if method is not None:
            globals()[name].__doc__ = method.__doc__


_copy_docs()
