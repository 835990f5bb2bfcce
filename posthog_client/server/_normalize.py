"""An event's properties as ingestion normalises them before person processing (S15–S17, S21).

PostHog's ``normalizeProcessPersonFlagStep`` and ``normalizeEvent``: the ``$process_person_profile``
flag decides person processing, ``$os_name`` fills a missing ``$os``, automatic person properties
join ``$set``/``$set_once``, and the person updates of personless events are stripped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ._properties import add_initial_properties, fill_os_from_os_name

__all__ = [
    "INVALID_FLAG_MESSAGE",
    "NO_PERSON_UPDATE_EVENTS",
    "PERSON_ONLY_EVENTS",
    "normalize_properties",
    "person_processing",
]

PERSON_ONLY_EVENTS: Final = frozenset(
    {"$identify", "$create_alias", "$merge_dangerously", "$groupidentify"}
)
"""Events that only make sense with a person: dropped when sent personless (S16)."""
NO_PERSON_UPDATE_EVENTS: Final = frozenset({"$exception", "$$heatmap"})
"""Events processed apart from the rest by PostHog, so never allowed to update a person."""
INVALID_FLAG_MESSAGE: Final = (
    "Only a boolean value is valid for the $process_person_profile property"
)
# session recordings carry no person properties of their own
_NO_AUTOMATIC_PROPERTIES: Final = frozenset({"$snapshot", "$performance_event"})
_PERSON_UPDATES: Final = ("$set", "$set_once", "$unset")


def person_processing(properties: Mapping[str, Any]) -> tuple[bool, bool]:
    """S15: whether the event is processed with a person, and whether its flag was valid.

    Only a JSON ``false`` turns person processing off; any other non-boolean is invalid.
    """
    value = properties.get("$process_person_profile", True)
    return value is not False, isinstance(value, bool)


def normalize_properties(name: str, properties: dict[str, Any], process_person: bool) -> None:
    """Normalise an event's ``properties`` in place, as ingestion stores them.

    Personless events and ``$groupidentify`` lose ``$set``/``$set_once``/``$unset`` (S17,
    S19); ``$process_person_profile`` is removed from events processed with a person (the
    default) and is ``false`` on the others.
    """
    if name not in _NO_AUTOMATIC_PROPERTIES:
        fill_os_from_os_name(properties)
        add_initial_properties(properties)
    if not process_person or name == "$groupidentify":
        for key in _PERSON_UPDATES:
            properties.pop(key, None)
    if process_person:
        properties.pop("$process_person_profile", None)
    else:
        properties["$process_person_profile"] = False
