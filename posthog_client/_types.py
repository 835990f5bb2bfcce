"""Type aliases shared across the package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeAlias

__all__ = ["BeforeSendHook", "PersonProfiles"]

PersonProfiles: TypeAlias = Literal["identified_only", "always", "never"]
# before_send: the finished event in, the event to send (or None to drop it) out
BeforeSendHook: TypeAlias = Callable[[dict[str, Any]], "dict[str, Any] | None"]
