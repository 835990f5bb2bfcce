"""Reading flag definitions: the JSON of PostHog's ``/flags/definitions`` endpoint (SR10).

``{"flags": [flag, …], "group_type_mapping": {"0": "company"}, "cohorts": {"7": group}}``
(a bare list of flags is read as ``{"flags": [...]}``). Deleted flags are dropped. With
``strict=True`` (a ``flags.json`` someone wrote for the reference server) the first problem
raises :class:`ConfigurationError` saying where it is; otherwise (definitions polled from
PostHog) a flag or cohort with a problem is left out with a WARNING and the rest load.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import TypeVar

from .._exceptions import ConfigurationError
from .._log import logger
from ._coerce import text
from ._cohorts import cohort_id
from ._json import Invalid, JsonObject, is_int, kind
from ._model import (
    FILTER_TYPES,
    PROPERTY_OPERATORS,
    Condition,
    Definitions,
    FlagDefinition,
    Holdout,
    PropertyFilter,
    PropertyGroup,
    Variant,
)
from ._operators import compile_pattern

__all__ = ["parse_definitions"]

_T = TypeVar("_T")
_OPERATORS_BY_TYPE = {"cohort": {"in", "not_in"}, "flag": {"flag_evaluates_to"}}


def parse_definitions(data: object, *, strict: bool = False) -> Definitions:
    """Validated :class:`Definitions` from decoded JSON (see the module docstring)."""
    try:
        top = JsonObject({"flags": data} if isinstance(data, list) else data, "definitions")
        flag_list = top.items("flags")
        mapping = top.child("group_type_mapping").raw
        cohort_map = top.child("cohorts").raw
    except Invalid as problem:
        raise ConfigurationError(f"flag definitions: {problem}") from None
    group_types = _collect(mapping, "group_type_mapping", _group_type, strict)
    cohorts = _collect(cohort_map, "cohorts", _cohort, strict)
    flags: dict[str, FlagDefinition] = {}
    for index, raw in enumerate(flag_list):
        path = f"flags[{index}]"
        parsed = _guard(strict, path, _flag, raw, path, strict)
        if parsed is not None and parsed.key in flags:
            _report(Invalid(path, f"a second flag with key {parsed.key!r}"), path, strict)
        elif parsed is not None:
            flags[parsed.key] = parsed
    return Definitions(flags=_number(flags), group_types=group_types, cohorts=cohorts)


def _number(flags: dict[str, FlagDefinition]) -> dict[str, FlagDefinition]:
    """Give flags without an id (hand-written files) ids after the largest given one."""
    next_id = max((f.id for f in flags.values() if f.id is not None), default=0) + 1
    for key, flag in flags.items():
        if flag.id is None:
            flags[key] = dataclasses.replace(flag, id=next_id)
            next_id += 1
    return flags


def _collect(
    raw: dict[str, object],
    where: str,
    read: Callable[[str, object, str, bool], tuple[int, _T]],
    strict: bool,
) -> dict[int, _T]:
    found: dict[int, _T] = {}
    for key, value in raw.items():
        path = f"{where}[{key!r}]"
        entry = _guard(strict, path, read, key, value, path, strict)
        if entry is not None:
            found[entry[0]] = entry[1]
    return found


def _guard(strict: bool, path: str, build: Callable[..., _T], *args: object) -> _T | None:
    """``build(*args)``; a problem raises in strict mode, else is logged and skipped."""
    try:
        return build(*args)
    except Invalid as problem:
        _report(problem, path, strict)
        return None


def _report(problem: Invalid, path: str, strict: bool) -> None:
    if strict:
        raise ConfigurationError(f"flag definitions: {problem}") from None
    logger.warning("Flag definitions: left out %s (%s)", path, problem)


def _group_type(key: str, value: object, path: str, strict: bool) -> tuple[int, str]:
    if not (isinstance(value, str) and value):
        raise Invalid(path, f"expected a group type name, got {kind(value)}")
    return _id(key, path), value


def _cohort(key: str, value: object, path: str, strict: bool) -> tuple[int, PropertyGroup]:
    return _id(key, path), _group(value, path, strict)


def _flag(raw: object, path: str, strict: bool) -> FlagDefinition | None:
    flag = JsonObject(raw, path)
    key = flag.text("key", required=True)
    assert key is not None
    if flag.flag("deleted", False):
        return None
    path = flag.path = f"{path} ({key!r})"
    filters = JsonObject(flag.raw.get("filters") or {}, f"{path}.filters")
    aggregation = filters.integer("aggregation_group_type_index")
    conditions = tuple(
        _condition(c, f"{filters.path}.groups[{i}]", aggregation, strict)
        for i, c in enumerate(filters.items("groups"))
    )
    supers = filters.items("super_groups")
    bucketing = flag.text("bucketing_identifier") or filters.text("bucketing_identifier")
    if strict and bucketing not in (None, "distinct_id", "device_id"):
        raise Invalid(f"{path}.bucketing_identifier", "expected distinct_id or device_id")
    return FlagDefinition(
        key=key,
        id=flag.integer("id"),
        version=flag.integer("version"),
        active=flag.flag("active", True),
        conditions=conditions,
        variants=_variants(filters.child("multivariate"), strict),
        payloads=_payloads(filters.child("payloads")),
        aggregation=aggregation,
        ensure_experience_continuity=flag.flag("ensure_experience_continuity", False),
        bucket_by_device=bucketing == "device_id",
        feature_enrollment=filters.flag("feature_enrollment", False),
        super_condition=_condition(supers[0], f"{path}.super_groups[0]", None, strict)
        if supers
        else None,
        holdout=_holdout(filters.raw.get("holdout"), f"{path}.filters.holdout"),
        early_exit=filters.flag("early_exit", False),
        evaluation_runtime=flag.text("evaluation_runtime"),
        evaluation_tags=_tags(flag),
        has_experiment=flag.flag("has_experiment", False),
    )


def _condition(raw: object, path: str, flag_aggregation: int | None, strict: bool) -> Condition:
    condition = JsonObject(raw, path)
    own = "aggregation_group_type_index" in condition.raw  # null here means persons
    return Condition(
        properties=tuple(
            _filter(p, f"{path}.properties[{i}]", strict)
            for i, p in enumerate(condition.items("properties"))
        ),
        rollout_percentage=condition.percentage("rollout_percentage"),
        variant=condition.text("variant"),
        aggregation=condition.integer("aggregation_group_type_index") if own else flag_aggregation,
    )


def _filter(raw: object, path: str, strict: bool) -> PropertyFilter:
    prop = JsonObject(raw, path)
    filter_type = prop.text("type") or "person"
    operator = prop.text("operator") or ("in" if filter_type == "cohort" else "exact")
    if strict:
        if filter_type not in FILTER_TYPES:
            raise Invalid(f"{path}.type", f"expected one of {sorted(FILTER_TYPES)}")
        if operator not in _OPERATORS_BY_TYPE.get(filter_type, PROPERTY_OPERATORS):
            raise Invalid(
                f"{path}.operator", f"{operator!r} is not an operator of {filter_type} filters"
            )
        if filter_type == "cohort" and cohort_id(prop.raw.get("value")) is None:
            raise Invalid(f"{path}.value", "expected the cohort's id")
        if operator.endswith("regex") and compile_pattern(text(prop.raw.get("value"))) is None:
            raise Invalid(f"{path}.value", "not a regular expression Python can read")
    return PropertyFilter(
        key=prop.text("key", required=filter_type != "cohort") or "id",
        value=prop.raw.get("value"),
        operator=operator,
        type=filter_type,
        group_type_index=prop.integer("group_type_index"),
        negation=prop.flag("negation", False),
    )


def _group(raw: object, path: str, strict: bool) -> PropertyGroup:
    group = JsonObject(raw, path)
    if "values" not in group.raw and isinstance(group.raw.get("properties"), dict):
        group = JsonObject(group.raw["properties"], f"{path}.properties")  # a cohort's "filters"
    if not group.raw:
        return PropertyGroup(match_all=True)
    group_type = group.text("type")
    if group_type not in ("AND", "OR"):
        raise Invalid(f"{group.path}.type", "expected AND or OR")
    values: list[PropertyFilter | PropertyGroup] = []
    for i, item in enumerate(group.items("values")):
        where = f"{group.path}.values[{i}]"
        nested = isinstance(item, dict) and ("values" in item or item.get("type") in ("AND", "OR"))
        values.append(_group(item, where, strict) if nested else _filter(item, where, strict))
    return PropertyGroup(match_all=group_type == "AND", values=tuple(values))


def _variants(multivariate: JsonObject, strict: bool) -> tuple[Variant, ...]:
    variants = []
    for i, raw in enumerate(multivariate.items("variants")):
        variant = JsonObject(raw, f"{multivariate.path}.variants[{i}]")
        key = variant.text("key", required=True)
        share = variant.percentage("rollout_percentage", required=True)
        assert key is not None and share is not None
        variants.append(Variant(key, share))
    total = sum(v.rollout_percentage for v in variants)
    if strict and variants and not math.isclose(total, 100.0, abs_tol=1e-9):
        raise Invalid(f"{multivariate.path}.variants", f"shares add up to {total:g}, not 100")
    return tuple(variants)


def _payloads(payloads: JsonObject) -> dict[str, str]:
    # Definitions hold payloads JSON-encoded; a hand-written file may give the value itself.
    return {
        str(key): value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        for key, value in payloads.raw.items()
        if value is not None
    }


def _holdout(raw: object, path: str) -> Holdout | None:
    if raw is None:
        return None
    holdout = JsonObject(raw, path)
    identifier = holdout.raw.get("id")
    if not (is_int(identifier) or isinstance(identifier, str)):
        raise Invalid(f"{path}.id", "expected the holdout's id")
    share = holdout.percentage("exclusion_percentage", required=True)
    assert share is not None and isinstance(identifier, (int, str))
    return Holdout(identifier, share)


def _tags(flag: JsonObject) -> tuple[str, ...]:
    tags = flag.items("evaluation_tags")
    if not all(isinstance(tag, str) for tag in tags):
        raise Invalid(f"{flag.path}.evaluation_tags", "expected a list of strings")
    return tuple(str(tag) for tag in tags)


def _id(key: str, path: str) -> int:
    if not (key.isascii() and key.isdigit() and len(key) <= 18):
        raise Invalid(path, "expected a numeric id as the key")
    return int(key)
