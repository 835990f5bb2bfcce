"""Type aliases shared across the package."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

__all__ = ["Event", "PersonProfiles", "Properties"]

Properties: TypeAlias = Mapping[str, Any]
"""Event or person properties as callers pass them (values are made JSON-safe by the SDK)."""

Event: TypeAlias = dict[str, Any]
"""A finished event in PostHog's wire shape: event, distinct_id, properties, timestamp, uuid."""

PersonProfiles: TypeAlias = Literal["identified_only", "always", "never"]
