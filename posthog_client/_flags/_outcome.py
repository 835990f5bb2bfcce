"""What an evaluation reads (:class:`Subject`) and what it answers (:class:`FlagResult`,
:class:`Inconclusive`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = ["REASON_SCORES", "FlagResult", "Inconclusive", "Subject", "describe"]

# Rank of a reason when several conditions disagree (E21): the best one is reported.
REASON_SCORES: Final = {
    "super_condition_value": 6,
    "holdout_condition_value": 5,
    "condition_match": 4,
    "out_of_rollout_bound": 3,
    "no_condition_match": 2,
    "no_group_type": 1,
    "flag_disabled": 0,
    "missing_dependency": -1,
}
_DESCRIPTIONS: Final = {
    "no_condition_match": "No matching condition set",
    "out_of_rollout_bound": "Out of rollout bound",
    "no_group_type": "No group type",
    "super_condition_value": "Super condition value",
    "holdout_condition_value": "Holdout condition value",
    "flag_disabled": "Feature flag is disabled",
    "missing_dependency": "Flag cannot be evaluated due to missing dependency",
    "dependency_not_found": "A cohort or flag this flag depends on was not found",
    "dependency_cycle": "Cohorts that depend on each other in a cycle",
    "cohort_filters_parsing_error": "A cohort filter does not name a cohort id",
}
_GROUPS_SKIPPED: Final = (
    "No matching condition set (group conditions were not evaluated because no group type"
    " was provided)"
)


def describe(reason: str, condition_index: int | None, *, groups_skipped: bool = False) -> str:
    """The human-readable ``reason.description`` PostHog sends with a reason code (F7)."""
    if reason == "condition_match":
        return f"Matched condition set {(condition_index or 0) + 1}"
    if reason == "no_condition_match" and groups_skipped:
        return _GROUPS_SKIPPED
    return _DESCRIPTIONS.get(reason, reason)


@dataclass(frozen=True, slots=True)
class Subject:
    """Who flags are evaluated for, and everything the evaluation may read about them.

    ``person_properties`` and ``group_properties`` (by group type name) are the properties to
    match: for the reference server, what it stored with the request's overrides on top (see
    :func:`person_properties_for`); for local evaluation, only what the caller passed.
    ``groups`` maps a group type name to the group key. ``hash_key_overrides`` (flag key →
    identifier) and ``cohort_memberships`` (static cohort id → member) are the server's stored
    experience-continuity keys and static cohort lists.
    """

    distinct_id: str
    person_properties: Mapping[str, object] = field(default_factory=dict)
    groups: Mapping[str, object] = field(default_factory=dict)
    group_properties: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    device_id: str | None = None
    anon_distinct_id: str | None = None
    hash_key_overrides: Mapping[str, str] = field(default_factory=dict)
    cohort_memberships: Mapping[int, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FlagResult:
    """A decided flag: its value, why (F7 reason code and description), and its payload.

    ``payload`` is the JSON-encoded string of the definitions, only for an enabled flag.
    ``failed`` marks a flag PostHog could not evaluate (``reason`` then holds the error code).
    """

    key: str
    enabled: bool
    variant: str | None = None
    reason: str = "condition_match"
    condition_index: int | None = None
    payload: str | None = None
    description: str = ""
    failed: bool = False

    @property
    def value(self) -> bool | str:
        """The flag's value as SDKs report it: the variant if any, else ``enabled``."""
        return self.variant if self.variant is not None else self.enabled


@dataclass(frozen=True, slots=True)
class Inconclusive:
    """Local evaluation cannot decide this flag: ask PostHog's ``/flags`` instead.

    ``why`` says what was missing (a property PostHog stores, a static cohort, an
    experience-continuity key…), for debug logs.
    """

    key: str
    why: str
