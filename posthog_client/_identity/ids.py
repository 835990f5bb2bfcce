"""Which distinct ids PostHog refuses, and why (identity-spec V1–V5, decision A8)."""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_DISTINCT_ID_LENGTH", "illegal_id_reason", "merge_refusal_reason"]

MAX_DISTINCT_ID_LENGTH: Final = (
    200  # capture truncates longer ids (S25), which would merge the wrong id
)

# PostHog ingestion refuses to merge these (V4), compared on the untrimmed id.
_CASE_INSENSITIVE: Final = frozenset(
    {"anonymous", "guest", "distinctid", "distinct_id", "id", "not_authenticated", "email",
     "undefined", "true", "false"}
)  # fmt: skip
_CASE_SENSITIVE: Final = frozenset(
    {"[object Object]", "NaN", "None", "none", "null", "0", "undefined"}
)
# posthog-js refuses these for identify (V1), case-insensitively.
_BROWSER_REFUSED: Final = frozenset(
    {"$posthog_cookieless", "distinct_id", "distinctid", "undefined", "null"}
)
_MAX_MERGEABLE_LENGTH: Final = 400


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def merge_refusal_reason(distinct_id: str) -> str | None:
    """Why PostHog's ingestion refuses to merge ``distinct_id`` (V4, V5), or None if it may."""
    if not distinct_id.strip():
        return "it is empty or whitespace"
    bare = _unquoted(distinct_id)
    if distinct_id.lower() in _CASE_INSENSITIVE or bare.lower() in _CASE_INSENSITIVE:
        return f"{distinct_id!r} is on PostHog's list of placeholder ids (any letter case)"
    if distinct_id in _CASE_SENSITIVE or bare in _CASE_SENSITIVE:
        return f"{distinct_id!r} is on PostHog's list of placeholder ids"
    if "\x00" in distinct_id:
        return "it contains a NUL character"
    if len(distinct_id) > _MAX_MERGEABLE_LENGTH:
        return f"it is longer than {_MAX_MERGEABLE_LENGTH} characters"
    return None


def illegal_id_reason(distinct_id: object) -> str | None:
    """Why ``distinct_id`` may not be passed to identify/alias/merge_dangerously, or None (A8)."""
    if not isinstance(distinct_id, str):
        return f"it is a {type(distinct_id).__name__}, not a string"
    reason = merge_refusal_reason(distinct_id)
    if reason is not None:
        return reason
    if distinct_id.lower() in _BROWSER_REFUSED:
        return f"{distinct_id!r} is a placeholder id PostHog's SDKs refuse (any letter case)"
    if len(distinct_id) > MAX_DISTINCT_ID_LENGTH:
        return f"it is longer than {MAX_DISTINCT_ID_LENGTH} characters (PostHog would truncate it)"
    return None
