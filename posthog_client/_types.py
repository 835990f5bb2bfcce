"""Type aliases shared across the package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple, TypeAlias

__all__ = [
    "BeforeSendHook",
    "MixpanelIdMerge",
    "MixpanelRegion",
    "MixpanelServiceAccount",
    "PersonProfiles",
]

PersonProfiles: TypeAlias = Literal["identified_only", "always", "never"]
# before_send: the finished event in, the event to send (or None to drop it) out
BeforeSendHook: TypeAlias = Callable[[dict[str, Any]], "dict[str, Any] | None"]

MixpanelIdMerge: TypeAlias = Literal["legacy", "original", "simplified"]
"""A Mixpanel project's ID-management setting (mixpanel-spec MI1); it cannot be detected, so the
option must match the project's settings."""
MixpanelRegion: TypeAlias = Literal["us", "eu", "in"]
"""A Mixpanel project's data residency: which ingestion host takes its data (MA1)."""


class MixpanelServiceAccount(NamedTuple):
    """A Mixpanel service account (Organization settings → Service accounts), which
    ``merge_dangerously`` needs under Original ID Merge. Only for backends: never ship it in a
    desktop app."""

    username: str
    secret: str
    project_id: str
