"""The JSON encoder under ``encoding``: ``orjson`` when installed (``posthog-client[fast]``),
else the standard library's C encoder; either way the same JSON for the same event.

``dumps(value)`` returns compact UTF-8 JSON, or raises (``TypeError``, ``ValueError``,
``RecursionError``) for anything ``encoding``'s slow path must look at: a type neither encoder
nor ``convert_known`` handles, NaN or infinity, a lone surrogate, a cycle. orjson is configured
to agree with the standard library: datetimes, dataclasses and subclasses of ``str``, ``int``,
``dict`` and ``list`` go through ``convert_known`` (or the slow path, which encodes with the
standard library); what it refuses but the standard library converts (non-``str`` keys,
integers beyond 64 bits) ``encoding`` encodes with ``stdlib_dumps``; and as orjson writes NaN
as ``null`` silently (``nan_as_null``), ``encoding`` checks a line containing ``null`` for
non-finite floats (``has_non_finite``). Parsed, the two outputs are identical, key order
included; as bytes they differ only in how a few small floats are spelt (``1e-05`` or
``0.00001``). ``tests/events/test_codec.py`` compares them on arbitrary events.

The encoder is chosen on the first call, not at import: importing orjson costs a few ms.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from .._fork_safety import lazy_imports

__all__ = [
    "convert_known",
    "dumps",
    "dumps_text",
    "encoder_name",
    "has_non_finite",
    "load_orjson",
    "nan_as_null",
    "options",
    "stdlib_dumps",
]


def convert_known(value: Any) -> Any:
    """JSON stand-in for the non-JSON types the SDK converts silently; TypeError otherwise."""
    # Imported here, on the rare event with such a value, to keep them off the import path.
    import dataclasses
    import datetime as dt
    import enum
    import uuid
    from decimal import Decimal
    from pathlib import PurePath

    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:  # mixed types have no order; keep a stable-per-run order
            return list(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(type(value).__name__)


# JSONEncoder.encode builds a new C encoder on every call; building it once halves the cost.
# Without cycle markers it is thread-safe, and a cycle ends in RecursionError: the slow path.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_make_encoder is not None:
    _iterencode = _c_make_encoder(
        None, convert_known, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )

    def dumps_text(value: Any) -> str:
        """``value`` as compact JSON text with the standard library (the slow path's encoder)."""
        return "".join(_iterencode(value, 0))

else:  # pragma: no cover - interpreters without the C accelerator
    _text_encoder = json.JSONEncoder(
        ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=convert_known
    )

    def dumps_text(value: Any) -> str:
        """``value`` as compact JSON text with the standard library (the slow path's encoder)."""
        return _text_encoder.encode(value)


def stdlib_dumps(value: Any, default: object = None, option: int = 0) -> bytes:
    """``value`` as compact UTF-8 JSON with the standard library, called like ``dumps``
    (``default`` and ``option`` are orjson's; the standard library's are set above)."""
    return dumps_text(value).encode("utf-8")  # strict: a lone surrogate raises


def load_orjson() -> tuple[Callable[[Any, Callable[[Any], Any], int], bytes], int] | None:
    """orjson's ``dumps`` and the options that make it agree with the standard library, or
    None if it is not installed."""
    try:
        with lazy_imports():
            import orjson
    except ImportError:
        return None
    agree = (
        orjson.OPT_PASSTHROUGH_DATETIME
        | orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_SUBCLASS
    )
    return orjson.dumps, agree


def _first_dumps(value: Any, default: object = None, option: int = 0) -> bytes:
    global dumps, options, nan_as_null
    fast = load_orjson()
    (dumps, options), nan_as_null = fast or (stdlib_dumps, 0), fast is not None
    return dumps(value, convert_known, options)


# The encoder, chosen on the first call: call it as ``dumps(value, convert_known, options)``
# (orjson's own signature, positional: a partial would cost a tenth of the whole encode).
# With orjson, NaN and infinity come out as null without an error (``nan_as_null``): check a
# line containing null with ``has_non_finite``.
dumps: Callable[[Any, Callable[[Any], Any], int], bytes] = _first_dumps
options = 0
nan_as_null = False


def encoder_name() -> str:
    """Which encoder ``dumps`` uses ("orjson" or "json"), choosing it if not done yet."""
    dumps({}, convert_known, options)
    return "orjson" if nan_as_null else "json"


def has_non_finite(value: Any) -> bool:
    """Whether ``value`` holds a NaN or infinite float, looking where the encoders look: into
    containers and into what ``convert_known`` makes of other values. Only for a value one of
    them encoded (so it has no cycle)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif not isinstance(item, str | int) and item is not None:
            try:
                pending.append(convert_known(item))
            except TypeError:
                pass  # encoded by orjson itself (a UUID): no float inside
    return False
