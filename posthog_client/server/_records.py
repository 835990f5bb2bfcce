"""The JSON form the query APIs give the engines' records (persons, events, merges…)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["record_json"]


def record_json(record: DataclassInstance, time_text: Callable[[datetime], str]) -> dict[str, Any]:
    """``record``'s fields by name, in declaration order; each datetime as ``time_text`` writes
    it, other values as they are."""
    values = ((item.name, getattr(record, item.name)) for item in fields(record))
    return {
        name: time_text(value) if isinstance(value, datetime) else value for name, value in values
    }
