"""What one evaluation reads: identifiers, properties, other flags' values, cohorts.

:class:`Context` caches each flag's result for the flags that depend on it and each cohort's
answer; the decisions themselves (``_engine``) build on it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import tzinfo
from typing import Final

from ._coerce import json_text
from ._cohorts import cohort_id, match_group
from ._model import Definitions, FlagDefinition, PropertyFilter
from ._operators import match_property
from ._outcome import FlagResult, Inconclusive, Subject

__all__ = ["Context", "Failure", "group_key"]

_EMPTY: Final[Mapping[str, object]] = {}


class Failure(Exception):
    """Server evaluation only: the flag cannot be evaluated (it is reported ``failed``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Context(abc.ABC):
    """One subject's evaluation. ``local`` marks SDK local evaluation (see ``_engine``)."""

    __slots__ = (
        "_cohort_stack",
        "_cohorts",
        "_evaluating",
        "_results",
        "definitions",
        "excluded",
        "local",
        "subject",
        "tz",
    )

    def __init__(
        self,
        definitions: Definitions,
        subject: Subject,
        *,
        local: bool,
        tz: tzinfo,
        excluded: frozenset[str],
    ) -> None:
        self.definitions = definitions
        self.subject = subject
        self.local = local
        self.tz = tz
        self.excluded = excluded
        self._results: dict[str, FlagResult | Inconclusive] = {}
        self._cohorts: dict[int, bool | None] = {}
        self._cohort_stack: list[int] = []
        self._evaluating: set[str] = set()

    def result(self, flag: FlagDefinition) -> FlagResult | Inconclusive:
        """``flag``'s result for this subject, evaluated once."""
        found = self._results.get(flag.key)
        if found is None:
            self._evaluating.add(flag.key)
            try:
                found = self._results[flag.key] = self._evaluate(flag)
            finally:
                self._evaluating.discard(flag.key)
        return found

    @abc.abstractmethod
    def _evaluate(self, flag: FlagDefinition) -> FlagResult | Inconclusive: ...

    def identifier(
        self, flag: FlagDefinition, aggregation: int | None, *, stored_overrides: bool = True
    ) -> str | None:
        """E2: the identifier hashed for ``flag``; None when local evaluation cannot know it."""
        subject = self.subject
        if aggregation is not None:
            name = self.definitions.group_types.get(aggregation)
            if name is None:
                return None if self.local else ""
            return group_key(subject.groups.get(name))
        if flag.bucket_by_device and subject.device_id:
            return subject.device_id
        override = subject.hash_key_overrides.get(flag.key) if stored_overrides else None
        if override is not None:
            return override
        if flag.ensure_experience_continuity and subject.anon_distinct_id is not None:
            return subject.anon_distinct_id
        return subject.distinct_id

    def has_group_key(self, index: int) -> bool:
        name = self.definitions.group_types.get(index)
        return name is not None and group_key(self.subject.groups.get(name)) != ""

    def properties_for(
        self, prop: PropertyFilter, aggregation: int | None
    ) -> tuple[Mapping[str, object], bool]:
        """The properties ``prop`` reads and whether they may be incomplete (local only)."""
        if prop.type == "person":
            return self.subject.person_properties, self.local
        if prop.type != "group":  # a filter type this engine does not know
            return _EMPTY, self.local
        index = prop.group_type_index if prop.group_type_index is not None else aggregation
        name = self.definitions.group_types.get(index) if index is not None else None
        if name is None:  # an index the definitions do not name: PostHog may know it
            return _EMPTY, self.local and index is not None
        given = self.subject.group_properties.get(name, _EMPTY)
        key = group_key(self.subject.groups.get(name))
        if not key:  # no group in the request: PostHog has only the overrides, as here
            return given, False
        return {"$group_key": key, **given}, self.local

    def dependency(self, prop: PropertyFilter) -> bool | None:
        """E14: ``flag_evaluates_to`` another flag's value."""
        target = self.definitions.flag_for(prop.key)
        if prop.operator != "flag_evaluates_to":
            return False
        if target is None or target.key in self._evaluating:  # only reachable through cohorts
            return self._fail("dependency_not_found" if target is None else "dependency_cycle")
        if target.key in self.excluded:
            value: bool | str = False
        elif not target.active:
            return False  # PostHog has no value for it, which never matches
        else:
            found = self.result(target)
            if isinstance(found, Inconclusive):
                return None
            if found.failed:
                return False
            value = found.value
        expected = prop.value
        if isinstance(expected, bool):
            return (value is not False) if expected else (value is False)
        return isinstance(expected, str) and value == expected

    def cohort_filter(self, prop: PropertyFilter) -> bool | None:
        identifier = cohort_id(prop.value)
        if identifier is None:
            return self._fail("cohort_filters_parsing_error")
        member = self._in_cohort(identifier)
        if member is None or prop.operator == "in":
            return member
        return not member if prop.operator == "not_in" else False

    def _in_cohort(self, identifier: int) -> bool | None:
        known = self.subject.cohort_memberships.get(identifier)
        if known is not None:
            return bool(known)
        if identifier in self._cohorts:
            return self._cohorts[identifier]
        group = self.definitions.cohorts.get(identifier)
        if group is None:  # a static cohort, or a deleted one
            return self._fail("dependency_not_found")
        if identifier in self._cohort_stack:
            return self._fail("dependency_cycle")
        self._cohort_stack.append(identifier)
        try:
            member = match_group(group, self._cohort_leaf)
        finally:
            self._cohort_stack.pop()
        self._cohorts[identifier] = member
        return member

    def _cohort_leaf(self, prop: PropertyFilter) -> bool | None:
        if prop.type == "cohort":
            return self.cohort_filter(prop)
        if prop.type == "flag":
            return self.dependency(prop)
        person = self.subject.person_properties
        return match_property(prop, person, partial=self.local, tz=self.tz)

    def _fail(self, code: str) -> bool | None:
        """Local evaluation defers (None) what the server reports as a failed flag."""
        if self.local:
            return None
        raise Failure(code)


def group_key(value: object) -> str:
    """A request's group key as hashed: a string, or a number's JSON text; "" otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return json_text(value)
    return ""
