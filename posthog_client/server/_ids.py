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
        return _js_number(value)
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    return "[object Object]"


def _js_number(value: float) -> str:
    """ECMAScript's Number::toString: the shortest round-tripping digits (Python's ``repr``
    finds the same ones), in fixed notation from 1e-7 to 1e21, else as ``d.ddde±n``."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exponent or 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")  # k digits, the value is 0.digits × 10^point
    k, n = len(digits), point
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        tail = f".{digits[1:]}" if k > 1 else ""
        text = f"{digits[0]}{tail}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + text
