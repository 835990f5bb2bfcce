"""Evaluating flags for one subject: PostHog's ``get_match`` (E2–E9, E13–E21), two ways.

*Server* evaluation (``local=False``, the reference server's ``/flags``) always decides: a
missing property, group or cohort member simply does not match. *Local* evaluation
(``local=True``, the SDK with flag definitions) decides only what PostHog would decide the
same way from what the SDK holds, and otherwise answers :class:`Inconclusive`. It defers
when a condition needs a property PostHog stores but the caller did not pass, a static
cohort, a group type index the definitions do not name, a stored experience-continuity key,
or early-access enrollment; a later matching condition still decides the flag when it gives
the same value the undecided one would have given.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from datetime import timezone, tzinfo
from typing import Final

from ._context import Context, Failure
from ._hashing import bucket, in_rollout, pick_variant
from ._model import Condition, Definitions, FlagDefinition, PropertyFilter
from ._operators import match_property
from ._outcome import REASON_SCORES, FlagResult, Inconclusive, Subject, describe

__all__ = ["evaluate_flag", "evaluate_flags"]

_DEFERRED: Final = "a condition needs data PostHog holds"


class _Unknown(enum.Enum):
    VARIANT = "unknown"  # the variant an undecided condition would give, when unknowable


class _Outcome(enum.Enum):
    MATCH = "match"
    NO_MATCH = "no_match"
    OUT_OF_ROLLOUT = "out_of_rollout"  # properties matched, rollout did not
    UNDECIDED = "undecided"  # properties undecidable, rollout passes
    UNDECIDED_OUT = "undecided_out"  # properties undecidable, but rollout fails anyway


_REASONS: Final = {
    _Outcome.MATCH: "condition_match",
    _Outcome.OUT_OF_ROLLOUT: "out_of_rollout_bound",
    _Outcome.NO_MATCH: "no_condition_match",
}
_NOTHING_EXCLUDED: Final[frozenset[str]] = frozenset()


def evaluate_flags(
    definitions: Definitions,
    subject: Subject,
    *,
    keys: Iterable[str] | None = None,
    local: bool = False,
    tz: tzinfo = timezone.utc,
    excluded: Collection[str] = (),
) -> dict[str, FlagResult | Inconclusive]:
    """Results of the active flags for ``subject`` (of ``keys`` only, in their order, if given).

    Inactive and unknown flags are left out, as PostHog's ``/flags`` leaves them out.
    ``excluded`` flags (filtered out by runtime or tags, F12) are left out too and read as
    ``false`` by flags that depend on them. ``tz`` is the team's time zone (E11).
    """
    run = _Run(definitions, subject, local=local, tz=tz, excluded=frozenset(excluded))
    wanted = definitions.flags.keys() if keys is None else keys
    results: dict[str, FlagResult | Inconclusive] = {}
    for key in wanted:
        flag = definitions.flags.get(key)
        if flag is not None and flag.active and key not in run.excluded:
            results[key] = run.result(flag)
    return results


def evaluate_flag(
    definitions: Definitions,
    key: str,
    subject: Subject,
    *,
    local: bool = False,
    tz: tzinfo = timezone.utc,
) -> FlagResult | Inconclusive | None:
    """One flag for ``subject``; None if the definitions have no such flag.

    An inactive flag is ``False`` with reason ``flag_disabled``.
    """
    flag = definitions.flags.get(key)
    if flag is None:
        return None
    if not flag.active:
        return _result(flag, False, None, "flag_disabled", None)
    return _Run(definitions, subject, local=local, tz=tz, excluded=_NOTHING_EXCLUDED).result(flag)


class _Run(Context):
    """Decides flags for one subject (see the module docstring)."""

    __slots__ = ()

    def _evaluate(self, flag: FlagDefinition) -> FlagResult | Inconclusive:
        if flag.key in self.definitions.unresolved:
            if self.local:
                return Inconclusive(flag.key, "depends on a missing flag or on a cycle")
            return _result(flag, False, None, "missing_dependency", None)
        if self.local and flag.ensure_experience_continuity:
            return Inconclusive(flag.key, "experience continuity uses hash keys PostHog stores")
        try:
            return self._match(flag)
        except Failure as failure:
            code = failure.code
            return FlagResult(flag.key, False, None, code, None, None, describe(code, None), True)

    def _match(self, flag: FlagDefinition) -> FlagResult | Inconclusive:
        person = self.subject.person_properties
        if flag.feature_enrollment:  # early access (E17): the stored enrollment decides
            enrollment = f"$feature_enrollment/{flag.key}"
            if enrollment in person:
                enrolled = person[enrollment] is True or person[enrollment] == "true"
                return _result(flag, enrolled, None, "super_condition_value", 0)
            if self.local:
                return Inconclusive(flag.key, "early-access enrollment is stored by PostHog")
        elif flag.super_condition is not None and flag.super_condition.properties:
            if any(p.key in person for p in flag.super_condition.properties):
                outcome = self._condition(flag, flag.super_condition, None)
                if outcome in (_Outcome.UNDECIDED, _Outcome.UNDECIDED_OUT):
                    return Inconclusive(flag.key, _DEFERRED)
                return _result(flag, outcome is _Outcome.MATCH, None, "super_condition_value", 0)
            if self.local:
                return Inconclusive(flag.key, "legacy super condition on stored properties")
        if flag.holdout is not None:  # E18: hashed without the flag key, shared by experiments
            identifier = self.identifier(flag, flag.aggregation, stored_overrides=False)
            if identifier is None:
                return Inconclusive(flag.key, "group type index unknown to the definitions")
            share = min(max(flag.holdout.exclusion_percentage, 0.0), 100.0)
            if share >= 100.0 or bucket("holdout-", identifier) <= share / 100.0:
                variant = f"holdout-{flag.holdout.id}"
                return _result(flag, True, variant, "holdout_condition_value", None)
        return self._conditions(flag)

    def _conditions(self, flag: FlagDefinition) -> FlagResult | Inconclusive:
        best, best_index, groups_skipped = "no_group_type", None, False
        pending: list[str | _Unknown | None] = []  # variants undecided conditions would give
        blocked = False  # early exit may have ended evaluation at an undecided condition
        for index, condition in enumerate(flag.conditions):
            aggregation = condition.aggregation
            reason = None
            if aggregation is None and flag.bucket_by_device and not self.subject.device_id:
                reason = "out_of_rollout_bound"  # E21: no fallback to the distinct id
            elif aggregation is not None and not self.has_group_key(aggregation):
                if self.local and aggregation not in self.definitions.group_types:
                    pending.append(self._variant(flag, condition))  # PostHog may know the type
                    continue
                reason, groups_skipped = "no_group_type", True
            if reason is not None:
                best, best_index = _better(best, best_index, reason, index)
                continue
            outcome = self._condition(flag, condition, aggregation)
            if outcome is _Outcome.UNDECIDED:
                pending.append(self._variant(flag, condition))
                continue
            if outcome is _Outcome.UNDECIDED_OUT:
                blocked = blocked or flag.early_exit
                best, best_index = _better(best, best_index, "out_of_rollout_bound", index)
                continue
            reason = _REASONS[outcome]
            best, best_index = _better(best, best_index, reason, index)
            if outcome is _Outcome.MATCH:
                variant = self._variant(flag, condition)
                if isinstance(variant, _Unknown) or blocked or any(p != variant for p in pending):
                    return Inconclusive(flag.key, _DEFERRED)
                return _result(flag, True, variant, best, best_index)
            if outcome is _Outcome.OUT_OF_ROLLOUT and flag.early_exit:
                break  # E5: the targeted user is out of the rollout, later sets cannot help
        if pending:
            return Inconclusive(flag.key, _DEFERRED)
        return _result(flag, False, None, best, best_index, groups_skipped=groups_skipped)

    def _condition(
        self, flag: FlagDefinition, condition: Condition, aggregation: int | None
    ) -> _Outcome:
        """Properties (AND, cohorts last) then rollout (E5)."""
        undecided = False
        cohorts: list[PropertyFilter] = []
        for prop in condition.properties:
            if prop.type == "cohort":
                cohorts.append(prop)
                continue
            if prop.type == "flag":
                matched = self.dependency(prop)
            else:
                properties, partial = self.properties_for(prop, aggregation)
                matched = match_property(prop, properties, partial=partial, tz=self.tz)
            if matched is False:
                return _Outcome.NO_MATCH
            undecided = undecided or matched is None
        for prop in cohorts:
            matched = self.cohort_filter(prop)
            if matched is False:
                return _Outcome.NO_MATCH
            undecided = undecided or matched is None
        identifier = self.identifier(flag, aggregation)
        passes = identifier is not None and in_rollout(
            flag.key, identifier, condition.rollout_percentage
        )
        if undecided:
            return _Outcome.UNDECIDED if passes else _Outcome.UNDECIDED_OUT
        return _Outcome.MATCH if passes else _Outcome.OUT_OF_ROLLOUT

    def _variant(self, flag: FlagDefinition, condition: Condition) -> str | _Unknown | None:
        """E6: a valid condition override, else the hashed variant (None for boolean flags)."""
        if condition.variant is not None and any(v.key == condition.variant for v in flag.variants):
            return condition.variant
        if not flag.variants:
            return None
        identifier = self.identifier(flag, condition.aggregation)
        if identifier is None:
            return _Unknown.VARIANT
        return pick_variant(flag.key, identifier, flag.variants)


def _result(
    flag: FlagDefinition,
    enabled: bool,
    variant: str | None,
    reason: str,
    index: int | None,
    *,
    groups_skipped: bool = False,
) -> FlagResult:
    payload = flag.payloads.get("true" if variant is None else variant) if enabled else None
    description = describe(reason, index, groups_skipped=groups_skipped)
    return FlagResult(flag.key, enabled, variant, reason, index, payload, description)


def _better(best: str, index: int | None, reason: str, new_index: int) -> tuple[str, int | None]:
    """Keep the higher-ranked reason; a tie goes to the later condition (E21)."""
    if REASON_SCORES[best] <= REASON_SCORES[reason]:
        return reason, new_index
    return best, index
