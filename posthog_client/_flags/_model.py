"""Flag definitions as the engine reads them: immutable, validated, dependencies resolved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "FILTER_TYPES",
    "PROPERTY_OPERATORS",
    "Condition",
    "Definitions",
    "FlagDefinition",
    "Holdout",
    "PropertyFilter",
    "PropertyGroup",
    "Variant",
]

# Operators of person and group filters (E10–E12; ``between`` and the ``_multi`` forms are
# newer additions of the Rust service). Cohort filters take ``in``/``not_in``, flag filters
# ``flag_evaluates_to``.
PROPERTY_OPERATORS: Final = frozenset(
    {
        "exact", "is_not", "is_set", "is_not_set",
        "icontains", "not_icontains", "icontains_multi", "not_icontains_multi",
        "starts_with", "not_starts_with", "ends_with", "not_ends_with",
        "regex", "not_regex", "gt", "gte", "lt", "lte", "between", "not_between",
        "semver_eq", "semver_neq", "semver_gt", "semver_gte", "semver_lt", "semver_lte",
        "semver_tilde", "semver_caret", "semver_wildcard",
        "is_date_exact", "is_date_before", "is_date_after",
    }
)  # fmt: skip
FILTER_TYPES: Final = frozenset({"person", "group", "cohort", "flag"})


@dataclass(frozen=True, slots=True)
class PropertyFilter:
    """One filter of a condition or cohort. ``value`` is raw JSON; ``None`` is null or absent."""

    key: str
    value: object = None
    operator: str = "exact"
    type: str = "person"
    group_type_index: int | None = None
    negation: bool = False


@dataclass(frozen=True, slots=True)
class PropertyGroup:
    """A cohort's filters: AND (``match_all``) or OR over filters and nested groups."""

    match_all: bool
    values: tuple[PropertyFilter | PropertyGroup, ...] = ()


@dataclass(frozen=True, slots=True)
class Condition:
    """A condition set. ``aggregation`` is the effective group type index; None means persons."""

    properties: tuple[PropertyFilter, ...] = ()
    rollout_percentage: float | None = None
    variant: str | None = None
    aggregation: int | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    key: str
    rollout_percentage: float


@dataclass(frozen=True, slots=True)
class Holdout:
    id: int | str
    exclusion_percentage: float


@dataclass(frozen=True, slots=True)
class FlagDefinition:
    """One flag. ``payloads`` maps ``"true"`` or a variant key to a JSON-encoded string."""

    key: str
    id: int | None = None
    version: int | None = None
    active: bool = True
    conditions: tuple[Condition, ...] = ()
    variants: tuple[Variant, ...] = ()
    payloads: Mapping[str, str] = field(default_factory=dict)
    aggregation: int | None = None
    ensure_experience_continuity: bool = False
    bucket_by_device: bool = False
    feature_enrollment: bool = False
    super_condition: Condition | None = None
    holdout: Holdout | None = None
    early_exit: bool = False
    evaluation_runtime: str | None = None
    evaluation_tags: tuple[str, ...] = ()
    has_experiment: bool = False


@dataclass(frozen=True, eq=False)
class Definitions:
    """A project's flags (by key, in source order), group types by index, cohorts by id.

    On construction, flag dependencies (``type: "flag"`` filters naming a flag by key or id)
    are resolved: ``unresolved`` holds flags that depend, directly or through other flags, on
    a flag that does not exist or on a cycle; ``cyclic`` holds the flags of a cycle.
    """

    flags: Mapping[str, FlagDefinition] = field(default_factory=dict)
    group_types: Mapping[int, str] = field(default_factory=dict)
    cohorts: Mapping[int, PropertyGroup] = field(default_factory=dict)
    unresolved: frozenset[str] = field(init=False)
    cyclic: frozenset[str] = field(init=False)
    _ids: Mapping[int, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ids = {flag.id: key for key, flag in self.flags.items() if flag.id is not None}
        object.__setattr__(self, "_ids", ids)
        unresolved, cyclic = self._analyse_dependencies()
        object.__setattr__(self, "unresolved", frozenset(unresolved | cyclic))
        object.__setattr__(self, "cyclic", frozenset(cyclic))

    def flag_for(self, reference: str) -> FlagDefinition | None:
        """The flag a dependency names: its key (definitions endpoint) or its id (server)."""
        flag = self.flags.get(reference)
        if flag is None and reference.isascii() and reference.isdigit():
            key = self._ids.get(int(reference))
            flag = self.flags.get(key) if key is not None else None
        return flag

    def dependencies(self, flag: FlagDefinition) -> list[str | None]:
        """Keys of the flags ``flag`` depends on; None for a reference that resolves to none."""
        found: list[str | None] = []
        conditions = (*flag.conditions, *((flag.super_condition,) if flag.super_condition else ()))
        for condition in conditions:
            for prop in condition.properties:
                if prop.type == "flag":
                    target = self.flag_for(prop.key)
                    found.append(target.key if target is not None else None)
        return found

    def with_dependencies(self, keys: list[str]) -> list[str]:
        """``keys`` that exist, followed by every flag they depend on, transitively."""
        ordered = [key for key in dict.fromkeys(keys) if key in self.flags]
        seen = set(ordered)
        for key in ordered:  # grows while iterating: a breadth-first walk
            for dependency in self.dependencies(self.flags[key]):
                if dependency is not None and dependency not in seen:
                    seen.add(dependency)
                    ordered.append(dependency)
        return ordered

    def _analyse_dependencies(self) -> tuple[set[str], set[str]]:
        unresolved: set[str] = set()
        cyclic: set[str] = set()
        done: set[str] = set()
        stack: list[str] = []

        def visit(key: str) -> None:
            stack.append(key)
            for dependency in self.dependencies(self.flags[key]):
                if dependency is None:
                    unresolved.add(key)
                    continue
                if dependency in stack:
                    cyclic.update(stack[stack.index(dependency) :])
                elif dependency not in done:
                    visit(dependency)
                if dependency in unresolved or dependency in cyclic:
                    unresolved.add(key)
            stack.pop()
            done.add(key)

        for key in self.flags:
            if key not in done:
                visit(key)
        return unresolved, cyclic
