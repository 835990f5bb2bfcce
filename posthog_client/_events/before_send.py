"""Running the app's ``before_send`` hook on a finished event (redaction, sampling)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._log import logger
from .._types import BeforeSendHook
from .encoding import SharedProperties

__all__ = ["BeforeSend"]


class BeforeSend:
    """Calls ``hook`` with each event; returns what to send, or None to drop it.

    The hook gets a copy of the event and of its top-level properties, so a hook that fails
    half-way cannot leave a half-changed event behind. A hook that raises, or returns something
    other than an event or None, leaves the event unchanged; that is logged once per kind.
    ``uuid`` and ``timestamp`` removed by the hook are put back: retries and deduplication need
    them.
    """

    __slots__ = ("_hook", "_refused", "_warned")

    def __init__(self, hook: BeforeSendHook, refused: dict[str, int]) -> None:
        self._hook = hook
        self._refused = refused  # the client's counters of events not sent, by reason
        self._warned: set[str] = set()

    def __call__(
        self, event: dict[str, Any], shared: SharedProperties | None = None
    ) -> dict[str, Any] | None:
        """The event to send, or None (counted as ``before_send``). ``shared`` are properties
        the queue would splice in (see ``SharedProperties``): the hook sees them too."""
        if shared is not None:
            event = {**event, "properties": {**shared.properties, **event["properties"]}}
        candidate = {**event, "properties": dict(event["properties"])}
        try:
            result = self._hook(candidate)
        except Exception:
            self._warn("raised", "before_send raised; events are sent unchanged", exc_info=True)
            return event
        if result is None:
            self._refused["before_send"] = self._refused.get("before_send", 0) + 1
            return None
        problem = _problem(result)
        if problem is not None:
            self._warn("returned", "before_send %s; the event is sent unchanged", problem)
            return event
        assert isinstance(result, Mapping)
        checked = dict(result)
        for key in ("uuid", "timestamp"):
            if not isinstance(checked.get(key), str):
                checked[key] = event[key]
        return checked

    def _warn(self, kind: str, message: str, *args: object, exc_info: bool = False) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning(message, *args, exc_info=exc_info)


def _problem(result: object) -> str | None:
    """What makes ``result`` unsendable, or None."""
    if not isinstance(result, Mapping):
        return f"returned a {type(result).__name__}, not an event dict or None"
    for key in ("event", "distinct_id"):
        value = result.get(key)
        if not isinstance(value, str) or not value.strip():
            return f"returned an event whose {key!r} is not a non-empty string"
    if not isinstance(result.get("properties"), Mapping):
        return "returned an event whose 'properties' is not a dict"
    return None
