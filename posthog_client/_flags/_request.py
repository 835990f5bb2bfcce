"""A ``/flags`` request: its body (F2, F3) and which flags it may see (F12)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ._coerce import json_text
from ._model import Definitions

__all__ = ["FlagsRequest", "detect_runtime", "excluded_flags", "parse_flags_request"]

_MAX_DISTINCT_ID: Final = 200
_BROWSER_MARKS: Final = ("Mozilla/", "Chrome/", "Safari/", "Firefox/", "Edge/")
_SERVER_SDKS: Final = tuple(
    f"posthog-{sdk}/" for sdk in ("python", "ruby", "php", "java", "go", "node", "dotnet", "elixir")
)
_SERVER_MARKS: Final = ("python-requests/", "curl/")
_MOBILE_SDKS: Final = tuple(
    f"posthog-{sdk}/" for sdk in ("android", "ios", "react-native", "flutter")
)
_BROWSER_HEADERS: Final = ("origin", "referer", "sec-fetch-mode", "sec-fetch-site")


@dataclass(frozen=True, slots=True)
class FlagsRequest:
    """The fields of a ``/flags`` body the evaluation uses, aliases resolved (F3)."""

    distinct_id: str
    token: str | None = None
    anon_distinct_id: str | None = None
    device_id: str | None = None
    groups: Mapping[str, object] = field(default_factory=dict)
    person_properties: Mapping[str, object] = field(default_factory=dict)
    group_properties: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    geoip_disable: bool = False
    disable_flags: bool = False
    flag_keys: tuple[str, ...] | None = None
    evaluation_runtime: str | None = None
    evaluation_contexts: tuple[str, ...] | None = None


def parse_flags_request(body: object) -> FlagsRequest:
    """Read a decoded ``/flags`` body; :class:`ValueError` (a 400) if it has no distinct id.

    Numeric ids become their JSON text and ids over 200 characters are truncated, as PostHog
    does; fields of the wrong type are ignored.
    """
    if not isinstance(body, dict):
        raise ValueError("the /flags body must be a JSON object")
    raw_id = _first(body, "distinct_id", "$distinct_id")
    if isinstance(raw_id, str):
        distinct_id = raw_id
    elif isinstance(raw_id, (int, float)) and not isinstance(raw_id, bool):
        distinct_id = json_text(raw_id)
    else:
        raise ValueError("distinct_id is required (a string or a number)")
    group_properties = _mapping(_first(body, "group_properties", "$group_properties"))
    return FlagsRequest(
        distinct_id=distinct_id[:_MAX_DISTINCT_ID],
        token=_string(_first(body, "token", "api_key", "$token")),
        anon_distinct_id=_string(_first(body, "$anon_distinct_id", "anon_distinct_id")),
        device_id=_string(_first(body, "device_id", "$device_id")),
        groups=_mapping(_first(body, "groups", "$groups")),
        person_properties=_mapping(_first(body, "person_properties", "$properties")),
        group_properties={k: v for k, v in group_properties.items() if isinstance(v, dict)},
        geoip_disable=body.get("geoip_disable") is True,
        disable_flags=body.get("disable_flags") is True,
        flag_keys=_strings(_first(body, "flag_keys", "flag_keys_to_evaluate")),
        evaluation_runtime=_string(body.get("evaluation_runtime")),
        evaluation_contexts=_strings(
            _first(body, "evaluation_contexts", "evaluation_environments")
        ),
    )


def detect_runtime(explicit: str | None, headers: Mapping[str, str]) -> str | None:
    """F12: ``"client"``, ``"server"``, ``"all"``, or None when nothing tells.

    ``explicit`` is the body's ``evaluation_runtime``; otherwise the User-Agent and browser
    headers decide (header names in any case).
    """
    if explicit is not None:
        return _runtime(explicit)
    lowered = {name.lower(): value for name, value in headers.items()}
    agent = lowered.get("user-agent", "")
    if any(mark in agent for mark in _BROWSER_MARKS):
        return "client"
    if agent.startswith(_SERVER_SDKS) or any(mark in agent for mark in _SERVER_MARKS):
        return "server"
    if agent.startswith(_MOBILE_SDKS) or any(h in lowered for h in _BROWSER_HEADERS):
        return "client"
    return None


def excluded_flags(
    definitions: Definitions, runtime: str | None, contexts: Sequence[str] | None
) -> frozenset[str]:
    """Flags a request does not see (F12): another runtime's, or tagged for other contexts.

    With ``runtime`` None (undetected) only flags for every runtime are seen; with ``"all"``
    every flag is. Flags with evaluation tags are seen only if a tag is among ``contexts``
    (when the request sends any).
    """
    wanted = set(contexts or ())
    hidden = set()
    for key, flag in definitions.flags.items():
        own = _runtime(flag.evaluation_runtime or "all")
        other_runtime = runtime != "all" and own not in ("all", runtime)
        other_context = bool(wanted and flag.evaluation_tags) and wanted.isdisjoint(
            flag.evaluation_tags
        )
        if other_runtime or other_context:
            hidden.add(key)
    return frozenset(hidden)


def _runtime(value: str) -> str:
    lowered = value.lower()
    return lowered if lowered in ("client", "server") else "all"


def _first(body: Mapping[str, object], *names: str) -> object:
    return next((body[name] for name in names if body.get(name) is not None), None)


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: object) -> dict[str, object]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _strings(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(item for item in value if isinstance(item, str))
