"""What every identity model provides to the engine (legacy, original, simplified: MS6–MS19)."""

from __future__ import annotations

from typing import Final, NamedTuple, Protocol

from ._checks import CheckedEvent

__all__ = ["DEVICE_PREFIX", "Attribution", "IdentityModel", "PersonIds"]

DEVICE_PREFIX: Final = "$device:"


class Attribution(NamedTuple):
    """Where an event is stored, and the identity refusal it carries (if any)."""

    key: str
    failure: str | None = None
    description: str | None = None
    failure_property: str = "$failure_reason"
    """Original and legacy: ``$failure_reason``; Simplified: ``$identity_failure_reason`` (MI14)."""


class PersonIds(NamedTuple):
    """A person's canonical id, every id that resolves to it, and where its data is stored."""

    canonical: str
    distinct_ids: tuple[str, ...]
    keys: tuple[str, ...]
    """The keys its events are stored under."""
    profile_keys: tuple[str, ...]
    """The keys its profile operations are stored under."""


class IdentityModel(Protocol):
    """One Mixpanel identity model; it reads and writes the engine's store."""

    def attribute(self, event: CheckedEvent, privileged: bool) -> Attribution:
        """Apply ``event``'s identity effect (if any) and say where it is stored.

        ``privileged``: the request came on ``/import`` with a service account or the project
        secret, which ``$merge`` needs (MS2).
        """

    def profile_owner(self, distinct_id: str, ignore_alias: bool) -> str:
        """The key a profile operation sent to ``distinct_id`` is stored under."""

    def person(self, distinct_id: str) -> PersonIds | None:
        """The person ``distinct_id`` resolves to now, or None for an id never seen."""

    def person_at(self, key: str) -> PersonIds:
        """The person whose data is stored under ``key`` (to list persons)."""
