"""Person and group property filters (E10–E12), with PostHog's type coercions.

:func:`match_property` answers True or False as PostHog's flag service would. With
``partial=True`` (local evaluation: only the properties the caller passed, not those PostHog
stored) it answers None — *cannot decide here* — when the property is absent, and when this
engine cannot be sure to read a value as the service does (a pattern Python's ``re`` refuses,
a date shape outside :mod:`._dates`, an operator it does not know). It never raises.
"""

from __future__ import annotations

import enum
import functools
import operator as op
import re
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Final, Literal, TypeAlias

from . import _dates, _semver
from ._coerce import ascii_lower, boolish, text, to_float, truthy
from ._model import PropertyFilter

__all__ = ["compile_pattern", "match_property"]


class _Outcome(enum.Enum):
    INVALID = "invalid"  # the service raises a validation error: no match, whatever the polarity


_INVALID: Final = _Outcome.INVALID
_Result: TypeAlias = "bool | Literal[_Outcome.INVALID] | None"
_Check: TypeAlias = Callable[[object, object, tzinfo], _Result]


def match_property(
    prop: PropertyFilter, properties: Mapping[str, object], *, partial: bool, tz: tzinfo
) -> bool | None:
    """Whether ``properties`` satisfy ``prop``; None only with ``partial`` (see module doc)."""
    present = prop.key in properties
    if partial and not present:
        return None
    if prop.operator == "is_set":
        return present
    if prop.operator == "is_not_set":
        return not present
    if prop.value is None:  # a value-taking operator with no value never matches
        return False
    entry = _OPERATORS.get(prop.operator)
    if entry is None:
        return None if partial else False
    check, negated = entry
    if not present:  # absent: the "not" forms match, the others do not
        return negated
    outcome = check(prop.value, properties[prop.key], tz)
    if outcome is None:
        return None if partial else False
    if outcome is _INVALID:
        return False
    return outcome != negated


def _exact(expected: object, actual: object, tz: tzinfo) -> _Result:
    if boolish(expected):  # true, "True", "false" … compare as booleans
        return truthy(actual) == truthy(expected)
    target = text(actual).lower()
    if isinstance(expected, list):
        return any(text(item).lower() == target for item in expected)
    return text(expected).lower() == target


def _contains(expected: object, actual: object, tz: tzinfo) -> _Result:
    return ascii_lower(text(expected)) in ascii_lower(text(actual))


def _contains_any(expected: object, actual: object, tz: tzinfo) -> _Result:
    haystack = ascii_lower(text(actual))
    needles = expected if isinstance(expected, list) else [expected]
    return any(ascii_lower(text(needle)) in haystack for needle in needles)


def _starts(expected: object, actual: object, tz: tzinfo) -> _Result:
    return ascii_lower(text(actual)).startswith(ascii_lower(text(expected)))


def _ends(expected: object, actual: object, tz: tzinfo) -> _Result:
    return ascii_lower(text(actual)).endswith(ascii_lower(text(expected)))


@functools.lru_cache(maxsize=256)
def compile_pattern(source: str) -> re.Pattern[str] | None:
    """``source`` compiled by Python's ``re``; None if it refuses it or warns about it.

    ``re`` warns (FutureWarning) on shapes such as ``[[`` that other engines read as nested
    classes: the service may read them differently, so they count as not understood.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return re.compile(source)
        except (re.error, Warning, OverflowError, RecursionError, ValueError):
            return None


def _regex(expected: object, actual: object, tz: tzinfo) -> _Result:
    pattern = compile_pattern(text(expected))
    # The service's regex engine accepts some patterns Python's refuses: undecidable here.
    return None if pattern is None else pattern.search(text(actual)) is not None


def _numeric(compare: Callable[[float, float], bool]) -> _Check:
    def check(expected: object, actual: object, tz: tzinfo) -> _Result:
        left, right = to_float(actual), to_float(expected)
        return _INVALID if left is None or right is None else compare(left, right)

    return check


def _between(expected: object, actual: object, tz: tzinfo) -> _Result:
    if not isinstance(expected, list) or len(expected) != 2:
        return _INVALID
    low, high, value = to_float(expected[0]), to_float(expected[1]), to_float(actual)
    if low is None or high is None or value is None or not low <= high:
        return _INVALID  # also NaN bounds or value: every comparison with NaN is False
    return low <= value <= high if value == value else _INVALID


def _versions(name: str, check: Callable[[str, object, object], bool]) -> _Check:
    return lambda expected, actual, tz: check(name, actual, expected)


def _date(compare: Callable[[datetime, datetime], bool]) -> _Check:
    def check(expected: object, actual: object, tz: tzinfo) -> _Result:
        when = _dates.instant(actual, tz)
        if when is None:
            return None if isinstance(actual, str) else False
        if not isinstance(expected, str):
            return False
        bound = _dates.parse(expected, tz)
        return None if bound is None else compare(when, bound)

    return check


_OPERATORS: Final[dict[str, tuple[_Check, bool]]] = {
    "exact": (_exact, False),
    "is_not": (_exact, True),
    "icontains": (_contains, False),
    "not_icontains": (_contains, True),
    "icontains_multi": (_contains_any, False),
    "not_icontains_multi": (_contains_any, True),
    "starts_with": (_starts, False),
    "not_starts_with": (_starts, True),
    "ends_with": (_ends, False),
    "not_ends_with": (_ends, True),
    "regex": (_regex, False),
    "not_regex": (_regex, True),
    "gt": (_numeric(op.gt), False),
    "gte": (_numeric(op.ge), False),
    "lt": (_numeric(op.lt), False),
    "lte": (_numeric(op.le), False),
    "between": (_between, False),
    "not_between": (_between, True),
    "is_date_exact": (_date(op.eq), False),
    "is_date_before": (_date(op.lt), False),
    "is_date_after": (_date(op.gt), False),
    **{f"semver_{n}": (_versions(f"semver_{n}", _semver.compare), False) for n in
       ("eq", "neq", "gt", "gte", "lt", "lte")},
    **{f"semver_{n}": (_versions(f"semver_{n}", _semver.in_range), False) for n in
       ("tilde", "caret", "wildcard")},
}  # fmt: skip
