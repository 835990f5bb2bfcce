"""How PostHog's flag service reads a property value as text, number or boolean (E10).

The service holds properties as JSON values and compares their *string forms*: a string is
itself, anything else is its compact JSON text as Rust's ``serde_json`` writes it (``123`` →
``"123"``, ``1e16`` → ``"1e16"``, ``null`` → ``"null"``). Python objects that are not JSON (a
``datetime`` passed for local evaluation) fall back to ``str()``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Final

__all__ = ["ascii_lower", "boolish", "json_text", "text", "to_float", "truthy"]

# Rust's ``f64::from_str`` grammar: no surrounding spaces, no ``_``, ASCII digits only.
_RUST_FLOAT: Final = re.compile(
    r"[+-]?(?:inf|infinity|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)",
    re.IGNORECASE | re.ASCII,
)
_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def text(value: object) -> str:
    """The string form PostHog compares: the string itself, else its JSON text."""
    return value if isinstance(value, str) else json_text(value)


def json_text(value: object) -> str:
    """Compact JSON text of ``value`` as ``serde_json`` writes it (sorted object keys)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{json_text(k)}:{json_text(v)}" for k, v in items) + "}"
    return str(value)


def _float_text(value: float) -> str:
    """Shortest round-trip digits laid out the way the ``ryu`` crate does (``1e16``, ``1e-7``)."""
    if not math.isfinite(value):
        return "null"  # the service turns NaN/Infinity into null before matching (F5)
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    power = int(exponent or 0) - len(fraction)  # value = digits × 10**power
    stripped = digits.rstrip("0")
    power += len(digits) - len(stripped)
    digits = stripped
    point = len(digits) + power  # where the decimal point falls, counted from the first digit
    if power >= 0 and point <= 16:
        body = digits + "0" * power + ".0"
    elif 0 < point <= 16:
        body = f"{digits[:point]}.{digits[point:]}"
    elif -5 < point <= 0:
        body = "0." + "0" * -point + digits
    elif len(digits) == 1:
        body = f"{digits}e{point - 1}"
    else:
        body = f"{digits[0]}.{digits[1:]}e{point - 1}"
    return sign + body


def to_float(value: object) -> float | None:
    """The value as f64 the way the service reads it: numbers, or strings Rust parses."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    candidate = text(value)
    return float(candidate) if _RUST_FLOAT.fullmatch(candidate) else None


def truthy(value: object) -> bool:
    """``true``, ``"TRUE"``, or a list of only such values."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, list):
        return all(truthy(item) for item in value)
    return False


def boolish(value: object) -> bool:
    """Whether exact matching compares ``value`` as a boolean (bool, "true"/"false", lists)."""
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.lower() in ("true", "false")
    if isinstance(value, list):
        return all(boolish(item) for item in value)
    return False


def ascii_lower(value: str) -> str:
    """Lowercase A–Z only, like Rust's ``to_ascii_lowercase``."""
    return value.lower() if value.isascii() else value.translate(_ASCII_LOWER)
