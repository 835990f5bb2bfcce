"""Cohort definitions (E13): AND/OR groups of filters, in three-valued logic.

A leaf answers True, False or None (undecidable here, local evaluation only). AND is False as
soon as one member is False, OR is True as soon as one is True; otherwise an undecided member
leaves the group undecided. A leaf's ``negation`` inverts it; an empty group matches.
"""

from __future__ import annotations

from collections.abc import Callable

from ._model import PropertyFilter, PropertyGroup

__all__ = ["cohort_id", "match_group"]


def match_group(group: PropertyGroup, leaf: Callable[[PropertyFilter], bool | None]) -> bool | None:
    """Whether ``group`` matches, asking ``leaf`` about each filter; None if undecidable."""
    undecided = False
    for item in group.values:
        if isinstance(item, PropertyGroup):
            result = match_group(item, leaf)
        else:
            result = leaf(item)
            if result is not None and item.negation:
                result = not result
        if result is None:
            undecided = True
        elif result != group.match_all:  # AND meets a False, or OR meets a True
            return result
    return None if undecided else group.match_all


def cohort_id(value: object) -> int | None:
    """The cohort id a cohort filter names (a number, or digits in a string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None
