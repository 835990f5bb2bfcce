"""Type aliases shared across the package."""

from __future__ import annotations

from typing import Literal, TypeAlias

__all__ = ["PersonProfiles"]

PersonProfiles: TypeAlias = Literal["identified_only", "always", "never"]
