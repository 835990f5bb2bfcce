"""The ``/flags`` answer of the reference server, built from definitions and stored data.

:func:`build_flags_response` is pure: the server passes what it stored for the person and
their groups (E8, E9), its experience-continuity keys (E19) and static cohort lists; it gets
the v2 body (F6). :func:`legacy_response` turns that into the answer without ``?v=2`` (F8).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timezone, tzinfo
from typing import Final

from ._context import group_key
from ._engine import evaluate_flags
from ._model import Definitions, FlagDefinition
from ._outcome import FlagResult, Subject
from ._request import FlagsRequest, excluded_flags

__all__ = [
    "build_flags_response",
    "flag_details",
    "group_properties_for",
    "legacy_response",
    "person_properties_for",
]

StoredGroup = Callable[[str, str], "Mapping[str, object] | None"]

# E8: person properties that ingestion copies to an ``$initial_`` twin, possibly late.
_INITIAL: Final = {
    name: f"$initial_{name.removeprefix('$')}"
    for name in (
        "$app_build", "$app_name", "$app_namespace", "$app_version", "$browser",
        "$browser_version", "$device_type", "$current_url", "$pathname", "$os", "$os_version",
        "$referring_domain", "$referrer", "$screen_height", "$screen_width",
        "$viewport_height", "$viewport_width", "$raw_user_agent",
        "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "gclid",
        "gad_source", "gclsrc", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "twclid",
        "li_fat_id", "mc_cid", "igshid", "ttclid", "rdt_cid", "epik", "qclid", "sccid",
        "irclid", "_kx",
    )
}  # fmt: skip


def person_properties_for(
    distinct_id: str,
    stored: Mapping[str, object] | None,
    overrides: Mapping[str, object] | None,
) -> dict[str, object]:
    """E8: stored properties, ``distinct_id``, the request's overrides on top, and missing
    ``$initial_*`` filled from their plain twins (``stored`` None: no person yet)."""
    properties = dict(stored or {})
    properties["distinct_id"] = distinct_id
    properties.update(overrides or {})
    for name, initial in _INITIAL.items():
        if name in properties and initial not in properties:
            properties[initial] = properties[name]
    return properties


def group_properties_for(
    request: FlagsRequest, stored_group: StoredGroup | None
) -> dict[str, dict[str, object]]:
    """E9: per group type name, the stored group's properties with the request's on top."""
    merged: dict[str, dict[str, object]] = {}
    for name, key in request.groups.items():
        text = group_key(key)
        if text:
            stored = stored_group(name, text) if stored_group is not None else None
            merged[name] = dict(stored or {})
    for name, overrides in request.group_properties.items():
        merged.setdefault(name, {}).update(overrides)
    return merged


def build_flags_response(
    definitions: Definitions,
    request: FlagsRequest,
    *,
    stored_person: Mapping[str, object] | None = None,
    stored_group: StoredGroup | None = None,
    hash_key_overrides: Mapping[str, str] | None = None,
    cohort_memberships: Mapping[int, bool] | None = None,
    runtime: str | None = None,
    tz: tzinfo = timezone.utc,
    quota_limited: bool = False,
    request_id: str | None = None,
    evaluated_at_ms: int | None = None,
) -> dict[str, object]:
    """The v2 ``/flags`` body (F6) for ``request``.

    ``runtime`` is :func:`detect_runtime`'s answer; ``tz`` the team's time zone;
    ``quota_limited`` answers as a billing-limited project does (F9).
    """
    response: dict[str, object] = {
        "flags": {},
        "errorsWhileComputingFlags": False,
        "requestId": request_id or str(uuid.uuid4()),
        "evaluatedAt": evaluated_at_ms if evaluated_at_ms is not None else int(time.time() * 1000),
    }
    if quota_limited:
        response["quotaLimited"] = ["feature_flags"]
        return response
    if request.disable_flags:
        return response
    subject = Subject(
        distinct_id=request.distinct_id,
        person_properties=person_properties_for(
            request.distinct_id, stored_person, request.person_properties
        ),
        groups=request.groups,
        group_properties=group_properties_for(request, stored_group),
        device_id=request.device_id,
        anon_distinct_id=request.anon_distinct_id,
        hash_key_overrides=hash_key_overrides or {},
        cohort_memberships=cohort_memberships or {},
    )
    keys = None
    if request.flag_keys is not None:  # the requested flags and what they depend on (E3)
        keys = definitions.with_dependencies(list(request.flag_keys))
    excluded = excluded_flags(definitions, runtime, request.evaluation_contexts)
    results = evaluate_flags(definitions, subject, keys=keys, tz=tz, excluded=excluded)
    details = {}
    errors = False
    for key, result in results.items():
        assert isinstance(result, FlagResult)  # server evaluation always decides
        details[key] = flag_details(definitions.flags[key], result)
        errors = errors or result.failed or key in definitions.cyclic
    response["flags"] = details
    response["errorsWhileComputingFlags"] = errors
    return response


def flag_details(flag: FlagDefinition, result: FlagResult) -> dict[str, object]:
    """One ``FlagDetails`` object of the v2 answer (F6, F7)."""
    details: dict[str, object] = {
        "key": result.key,
        "enabled": result.enabled,
        "variant": result.variant,
    }
    if result.failed:
        details["failed"] = True
    details["reason"] = {
        "code": result.reason,
        "condition_index": result.condition_index,
        "description": result.description,
    }
    details["metadata"] = {
        "id": flag.id,
        "version": flag.version if flag.version is not None else 0,
        "description": None,
        "payload": result.payload,
        "has_experiment": flag.has_experiment,
    }
    return details


def legacy_response(v2: Mapping[str, object]) -> dict[str, object]:
    """F8: ``{featureFlags, featureFlagPayloads, …}`` from a v2 answer."""
    flags = v2.get("flags")
    values: dict[str, object] = {}
    payloads: dict[str, object] = {}
    for key, details in (flags if isinstance(flags, dict) else {}).items():
        variant = details.get("variant")
        values[key] = variant if variant is not None else details.get("enabled", False)
        metadata = details.get("metadata") or {}
        if metadata.get("payload") is not None:
            payloads[key] = metadata["payload"]
    legacy: dict[str, object] = {"featureFlags": values, "featureFlagPayloads": payloads}
    legacy.update({k: v for k, v in v2.items() if k != "flags"})
    return legacy
