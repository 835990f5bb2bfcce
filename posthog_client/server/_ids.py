"""Distinct ids as PostHog reads them: capture's normalisation (S25), ingestion's String() (S3),
and the person UUID derived from the first one (S1).

Which ids ingestion refuses to merge (V4/V5) is shared with the SDK: ``posthog_client._ids``.
"""

from __future__ import annotations

import math
import uuid
from typing import Final

from .._flags._coerce import json_text
from .._identity.ids import MAX_DISTINCT_ID_LENGTH
from ._strings import dumps

__all__ = [
    "PERSON_UUID_NAMESPACE",
    "js_string",
    "normalize_captured_distinct_id",
    "person_uuid",
]

PERSON_UUID_NAMESPACE: Final = uuid.UUID("932979b4-65c3-4424-8467-0b66ec27bc22")
"""PostHog's uuid5 namespace for person UUIDs (S1)."""


def person_uuid(team_id: int, distinct_id: str) -> str:
    """The UUID PostHog gives the person first created for ``distinct_id`` (S1)."""
    return str(uuid.uuid5(PERSON_UUID_NAMESPACE, f"{team_id}:{distinct_id}"))


def normalize_captured_distinct_id(value: object) -> str | None:
    """The distinct id capture stores for a JSON ``value``, or None if capture rejects it (S25/W14).

    Strings are kept as they are (surrounding whitespace included); other JSON values are
    serialised (``123`` becomes ``"123"``); NUL becomes U+FFFD; the result is cut to 200
    characters. None, and ids that are empty or whitespace-only, are rejected.
    """
    if value is None:
        return None
    text = (value if isinstance(value, str) else dumps(value)).replace("\x00", "\ufffd")
    if not text.strip():
        return None
    return text[:MAX_DISTINCT_ID_LENGTH]


def js_string(value: object) -> str:
    """``String(value)`` as JavaScript computes it: how ingestion reads merge ids (S3).

    So a ``$anon_distinct_id`` of ``null`` becomes ``"null"`` (an illegal id) and an object
    becomes ``"[object Object]"``.
    """
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, int):  # null, booleans, integers: their JSON text
        return json_text(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    return "[object Object]"
