"""Development overrides of flag values (C15, decision D11).

Kept in memory by each client: ``override_feature_flags()`` in code and tests, and for CLIs and
CI the environment variable ``POSTHOG_CLIENT_FLAGS`` (``"new-ui,beta=false,checkout=v2"``: a
bare key is ``True``, ``true``/``false`` are booleans, anything else is a variant), read when
flags are first used unless ``read_env=False``. Overrides win over every evaluated value, for
any user; ``$feature_flag_called`` reports the real value as ``$feature_flag_original_response``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from .._exceptions import ConfigurationError
from .._log import logger

__all__ = ["ENV_VAR", "FlagOverrides", "from_environment", "overrides_from"]

ENV_VAR: Final = "POSTHOG_CLIENT_FLAGS"
_NONE: Final[Mapping[str, Any]] = MappingProxyType({})


class FlagOverrides(NamedTuple):
    values: Mapping[str, bool | str] = _NONE
    payloads: Mapping[str, Any] = _NONE

    def __bool__(self) -> bool:
        return bool(self.values or self.payloads)


def overrides_from(
    flags: Mapping[str, bool | str] | Iterable[str] | None,
    payloads: Mapping[str, Any] | None,
    *,
    strict: bool,
) -> FlagOverrides:
    """Overrides from the public call's arguments; a wrong-typed entry is left out with a
    WARNING (``ConfigurationError`` in strict mode)."""
    values: dict[str, bool | str] = {}
    if isinstance(flags, Mapping):
        for key, value in flags.items():
            if isinstance(key, str) and key and isinstance(value, bool | str) and value != "":
                values[key] = value
            else:
                _refuse(f"override {key!r}: {value!r} is not True, False or a variant", strict)
    elif flags is not None and not isinstance(flags, str):
        for key in flags:
            if isinstance(key, str) and key:
                values[key] = True
            else:
                _refuse(f"override key {key!r} is not a flag key", strict)
    elif flags is not None:
        _refuse("override_feature_flags() takes a dict or a list of keys, not a string", strict)
    if payloads is not None and not isinstance(payloads, Mapping):
        _refuse("override payloads must be a dict of flag key to payload", strict)
        payloads = None
    return FlagOverrides(values, dict(payloads or {}))


def from_environment(environ: Mapping[str, str] | None = None) -> FlagOverrides:
    """Overrides from ``POSTHOG_CLIENT_FLAGS`` (an unusable entry is skipped with a WARNING)."""
    text = (os.environ if environ is None else environ).get(ENV_VAR, "")
    values: dict[str, bool | str] = {}
    for entry in text.split(","):
        key, separator, raw = (part.strip() for part in entry.partition("="))
        if not key or (separator and not raw):
            if entry.strip():
                logger.warning("%s: entry %r ignored (expected key or key=value)", ENV_VAR, entry)
            continue
        lowered = raw.lower()
        values[key] = True if not separator or lowered == "true" else lowered != "false" and raw
    return FlagOverrides(values)


def _refuse(message: str, strict: bool) -> None:
    if strict:
        raise ConfigurationError(message)
    logger.warning("%s; ignored", message)
