"""What flag reads tell PostHog: the ``$feature_flag_called`` event (C11, SR3), the flag
properties of other events (C13, SR8), and the bounded per-user dedup of backends (SR4)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .values import FlagInfo, FlagSet, decode_payload

__all__ = [
    "FLAG_CALLED",
    "CallDedup",
    "answer_errors",
    "event_flag_properties",
    "flag_called_properties",
    "value_text",
]

FLAG_CALLED: Final = "$feature_flag_called"
MAX_DEDUP_USERS: Final = 50_000  # SR4: posthog-python's MAX_DICT_SIZE
_NOT_OVERRIDDEN: Final = object()


def value_text(value: bool | str | None) -> str:
    """A flag value as the dedup records it (``str(value)`` in the browser)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else value


def flag_called_properties(
    key: str,
    value: bool | str | None,
    info: FlagInfo | None,
    answer: FlagSet | None,
    *,
    errors: Iterable[str] = (),
    original: object = _NOT_OVERRIDDEN,
    locally_evaluated: bool = False,
) -> dict[str, Any]:
    """The properties of one ``$feature_flag_called``: the value read (overrides applied), what
    the server said about the flag, and any error (``$feature_flag_error``, comma-joined)."""
    props: dict[str, Any] = {
        "$feature_flag": key,
        "$feature_flag_response": value,
        f"$feature/{key}": value,
        "locally_evaluated": locally_evaluated,
    }
    if info is not None:
        optional = {
            "$feature_flag_id": info.id,
            "$feature_flag_version": info.version,
            "$feature_flag_reason": info.reason,
            "$feature_flag_has_experiment": info.has_experiment,
        }
        props.update((k, v) for k, v in optional.items() if v is not None)
        if info.payload is not None:
            props["$feature_flag_payload"] = decode_payload(info.payload)
    if answer is not None:
        if answer.request_id is not None:
            props["$feature_flag_request_id"] = answer.request_id
        if answer.evaluated_at is not None:
            props["$feature_flag_evaluated_at"] = answer.evaluated_at
    if original is not _NOT_OVERRIDDEN:
        props["$feature_flag_original_response"] = original
    codes = list(dict.fromkeys(errors))
    if codes:
        props["$feature_flag_error"] = ",".join(codes)
    return props


def answer_errors(answer: FlagSet | None, key: str) -> list[str]:
    """Error codes an answer carries for ``key`` (SR5): errors, quota, a missing flag."""
    codes = []
    if answer is not None and answer.errors:
        codes.append("errors_while_computing_flags")
    if answer is not None and answer.quota_limited:
        codes.append("quota_limited")
    elif answer is not None and key not in answer.flags:
        codes.append("flag_missing")
    return codes


def event_flag_properties(values: Mapping[str, bool | str]) -> dict[str, Any]:
    """``$feature/<key>`` for every flag (``False`` included) and ``$active_feature_flags``, the
    sorted keys of enabled flags (C13, SR8)."""
    props: dict[str, Any] = {f"$feature/{key}": value for key, value in values.items()}
    props["$active_feature_flags"] = sorted(k for k, v in values.items() if v is not False)
    return props


class CallDedup:
    """Server mode (SR4): which (flag, value, groups) each user was already reported with, for
    at most ``MAX_DEDUP_USERS`` users, the least recently seen forgotten first. In memory."""

    def __init__(self, max_users: int = MAX_DEDUP_USERS) -> None:
        self._max = max_users
        self._seen: OrderedDict[str, set[tuple[str, str, tuple[tuple[str, str], ...]]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def first(
        self, distinct_id: str, key: str, value: bool | str | None, groups: Mapping[str, Any]
    ) -> bool:
        """Whether this read is the first of its kind for ``distinct_id`` (and record it)."""
        entry = (key, value_text(value), tuple(sorted((str(t), str(k)) for t, k in groups.items())))
        with self._lock:
            seen = self._seen.get(distinct_id)
            if seen is None:
                seen = self._seen[distinct_id] = set()
                if len(self._seen) > self._max:
                    self._seen.popitem(last=False)
            else:
                self._seen.move_to_end(distinct_id)
            if entry in seen:
                return False
            seen.add(entry)
            return True
