"""Distinct-id rules shared by the local server and the SDK: PostHog's illegal and unmergeable ids.

Dependency-free on purpose, so the client can refuse, before sending, an id that ingestion would
refuse to merge (identity-spec V3/V4/V5).
"""

from __future__ import annotations

import json
import math
from typing import Final

__all__ = [
    "MAX_CAPTURED_DISTINCT_ID_CHARS",
    "MAX_MERGEABLE_DISTINCT_ID_CHARS",
    "is_distinct_id_illegal",
    "is_distinct_id_unmergeable",
    "js_string",
    "normalize_captured_distinct_id",
]

MAX_CAPTURED_DISTINCT_ID_CHARS: Final = 200
"""Capture truncates longer distinct ids to this many characters (S25)."""

MAX_MERGEABLE_DISTINCT_ID_CHARS: Final = 400
"""Longer ids are refused for merges (V5)."""

_BARE_CASE_INSENSITIVE: Final = (
    "anonymous",
    "guest",
    "distinctid",
    "distinct_id",
    "id",
    "not_authenticated",
    "email",
    "undefined",
    "true",
    "false",
)
_BARE_CASE_SENSITIVE: Final = ("[object Object]", "NaN", "None", "none", "null", "0", "undefined")


def _with_quotes(ids: tuple[str, ...]) -> frozenset[str]:
    # ingestion has seen these ids arrive wrapped in quotes, so the quoted forms are illegal too
    return frozenset([*ids, *(f"'{i}'" for i in ids), *(f'"{i}"' for i in ids)])


_CASE_INSENSITIVE_ILLEGAL: Final = _with_quotes(_BARE_CASE_INSENSITIVE)
_CASE_SENSITIVE_ILLEGAL: Final = _with_quotes(_BARE_CASE_SENSITIVE)


def is_distinct_id_illegal(distinct_id: str) -> bool:
    """True if PostHog refuses to merge ``distinct_id`` because it looks like a bug (V4).

    Empty or whitespace-only ids, and well-known placeholders such as ``"anonymous"``, ``"None"``
    or ``"'guest'"``. The check is case-insensitive for some ids (``"GUEST"``) and exact for
    others (``"NaN"`` is illegal, ``"nan"`` is not); surrounding whitespace is not stripped, so
    ``" anonymous"`` is legal.
    """
    return (
        not distinct_id.strip()
        or distinct_id.lower() in _CASE_INSENSITIVE_ILLEGAL
        or distinct_id in _CASE_SENSITIVE_ILLEGAL
    )


def is_distinct_id_unmergeable(distinct_id: str) -> bool:
    """True if ingestion refuses to merge ``distinct_id``: illegal (V4), NUL or too long (V5)."""
    return (
        is_distinct_id_illegal(distinct_id)
        or "\x00" in distinct_id
        or len(distinct_id) > MAX_MERGEABLE_DISTINCT_ID_CHARS
    )


def normalize_captured_distinct_id(value: object) -> str | None:
    """The distinct id capture stores for a JSON ``value``, or None if capture rejects it (S25/W14).

    Strings are kept as they are (surrounding whitespace included); other JSON values are
    serialised (``123`` becomes ``"123"``); NUL becomes U+FFFD; the result is cut to 200
    characters. None, and ids that are empty or whitespace-only, are rejected.
    """
    if value is None:
        return None
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    )
    text = text.replace("\x00", "\ufffd")
    if not text.strip():
        return None
    return text[:MAX_CAPTURED_DISTINCT_ID_CHARS]


def js_string(value: object) -> str:
    """``String(value)`` as JavaScript computes it: how ingestion reads merge ids (S3).

    So a ``$anon_distinct_id`` of ``null`` becomes ``"null"`` (an illegal id) and an object
    becomes ``"[object Object]"``.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    return "[object Object]"
