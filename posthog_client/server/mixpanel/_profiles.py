"""Profile and group operations (MA17, MA19), applied by replaying them in ``$time`` order.

A profile is the replay of every operation sent to its ids, so a merge of two ids (Original ID
Merge) is one profile at once. Values already passed validation (``_checks``): ``$add`` values
are numbers, ``$union`` values lists. Local readings where Mixpanel documents nothing: an
operation on a value of the wrong type (``$add`` to a string, ``$append`` to a number) leaves
that key unchanged; ``$remove`` removes every equal item; ``$last_seen`` is not emulated. Values
compare as JSON does (``true`` is not ``1``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._properties import _same_json

__all__ = ["replay"]


def replay(ops: Iterable[tuple[str, Any]]) -> dict[str, Any] | None:
    """The profile after ``ops`` (oldest first), or None if none exists (never set, or deleted)."""
    profile: dict[str, Any] | None = None
    for op, value in ops:
        profile = apply(profile, op, value)
    return profile


def apply(profile: dict[str, Any] | None, op: str, value: Any) -> dict[str, Any] | None:
    """One operation on a profile (None: no profile yet); returns the new profile."""
    if op == "$delete":
        return None
    current = dict(profile or {})
    if op == "$set":
        current.update(value)
    elif op == "$set_once":
        current.update({k: v for k, v in value.items() if k not in current})
    elif op == "$unset":
        for name in value:
            current.pop(name, None)
    elif op == "$add":
        for key, amount in value.items():
            base = current.get(key, 0)
            if isinstance(base, (int, float)) and not isinstance(base, bool):
                current[key] = base + amount
    else:
        _apply_list_op(current, op, value)
    return current


def _apply_list_op(current: dict[str, Any], op: str, value: dict[str, Any]) -> None:
    for key, item in value.items():
        existing = current.get(key, [] if op != "$remove" else None)
        if not isinstance(existing, list):
            continue
        if op == "$append":
            current[key] = [*existing, item]
        elif op == "$union":
            merged = list(existing)
            for candidate in item:
                if not any(_same_json(candidate, kept) for kept in merged):
                    merged.append(candidate)
            current[key] = merged
        else:  # $remove
            current[key] = [kept for kept in existing if not _same_json(kept, item)]
