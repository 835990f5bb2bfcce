"""What a ``/flags`` answer says, read once into immutable records (F6–F10, C10)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["FlagInfo", "FlagSet", "decode_payload", "merge", "read_flags_response"]


class FlagInfo(NamedTuple):
    """One flag as the server answered it. ``payload`` is as sent (usually a JSON-encoded
    string), and only kept for an enabled flag."""

    value: bool | str
    payload: Any = None
    id: int | None = None
    version: int | None = None
    reason: str | None = None
    has_experiment: bool | None = None
    failed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self._asdict().items() if v is not None}

    @classmethod
    def from_json(cls, data: object) -> FlagInfo:
        if not isinstance(data, dict) or not isinstance(data.get("value"), bool | str):
            raise ValueError("not a cached flag")
        return cls(**{k: v for k, v in data.items() if k in cls._fields})


class FlagSet(NamedTuple):
    """The flags of one answer with what the answer said about them."""

    flags: Mapping[str, FlagInfo]
    request_id: str | None = None
    evaluated_at: int | None = None
    errors: bool = False
    quota_limited: bool = False

    def to_json(self) -> dict[str, Any]:
        data = self._asdict()
        data["flags"] = {key: info.to_json() for key, info in self.flags.items()}
        return data

    @classmethod
    def from_json(cls, data: object) -> FlagSet:
        if not isinstance(data, dict) or not isinstance(data.get("flags"), dict):
            raise ValueError("not a cached flag set")
        flags = {str(k): FlagInfo.from_json(v) for k, v in data["flags"].items()}
        return cls(
            flags,
            _text(data.get("request_id")),
            _integer(data.get("evaluated_at")),
            data.get("errors") is True,
            data.get("quota_limited") is True,
        )


def read_flags_response(body: object) -> FlagSet:
    """The v2 answer (F6) or the legacy one (F8); ``ValueError`` if it is neither."""
    if not isinstance(body, dict):
        raise ValueError("the /flags answer is not a JSON object")
    quota = body.get("quotaLimited")
    quota_limited = isinstance(quota, list) and "feature_flags" in quota
    if isinstance(body.get("flags"), dict):
        flags = {str(k): _v2_flag(v) for k, v in body["flags"].items() if isinstance(v, dict)}
    elif isinstance(body.get("featureFlags"), dict) or quota_limited:
        payloads = body.get("featureFlagPayloads")
        flags = _legacy_flags(body.get("featureFlags") or {}, payloads)
    else:
        raise ValueError("the /flags answer has neither 'flags' nor 'featureFlags'")
    return FlagSet(
        flags,
        _text(body.get("requestId")),
        _integer(body.get("evaluatedAt")),
        body.get("errorsWhileComputingFlags") is True,
        quota_limited,
    )


def merge(previous: FlagSet | None, answer: FlagSet) -> FlagSet:
    """What to keep after ``answer``: a quota-limited answer tells nothing (F9, D14); one with
    errors replaces only the flags it computed (F10); any other replaces everything."""
    if previous is None:
        return answer._replace(flags={k: v for k, v in answer.flags.items() if not v.failed})
    if answer.quota_limited:
        return previous._replace(quota_limited=True)
    if answer.errors:
        kept = dict(previous.flags)
        kept.update((k, v) for k, v in answer.flags.items() if not v.failed)
        return answer._replace(flags=kept)
    return answer


def decode_payload(raw: Any) -> Any:
    """A payload as the app wants it (C10): JSON decoded, the raw string if it is not JSON,
    None if empty."""
    if not isinstance(raw, str):
        return raw
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _v2_flag(details: Mapping[str, Any]) -> FlagInfo:
    enabled = details.get("enabled") is True
    variant = details.get("variant")
    value: bool | str = variant if isinstance(variant, str) and enabled else enabled
    reason = _object(details.get("reason"))
    metadata = _object(details.get("metadata"))
    experiment = metadata.get("has_experiment")
    return FlagInfo(
        value,
        metadata.get("payload") if enabled else None,
        _integer(metadata.get("id")),
        _integer(metadata.get("version")),
        _text(reason.get("description")) or _text(reason.get("code")),
        experiment if isinstance(experiment, bool) else None,
        details.get("failed") is True,
    )


def _legacy_flags(values: object, payloads: object) -> dict[str, FlagInfo]:
    payload_of = payloads if isinstance(payloads, dict) else {}
    flags = {}
    for key, value in values.items() if isinstance(values, dict) else ():
        if isinstance(value, bool | str) and value != "":
            enabled = value is not False
            flags[str(key)] = FlagInfo(value, payload_of.get(key) if enabled else None)
    return flags


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
