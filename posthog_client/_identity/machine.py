"""The client-side identity state machine (identity-spec §1b–§1f), as pure functions.

Each operation takes the freshest persisted ``IdentityState`` and returns an ``Outcome``: the new
state, the events to send (name + properties) and the value the public method returns. The
client runs them inside ``StateStore.transact`` so that concurrent processes see each other's
changes, and builds the listed events afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .._events.uuid7 import uuid7
from .._types import PersonProfiles
from .state import IdentityState

__all__ = [
    "Outcome",
    "alias",
    "has_person_processing",
    "identify",
    "merge_dangerously",
    "person_properties_hash",
    "reset",
    "set_person_properties",
    "unset_person_properties",
]


class Outcome(NamedTuple):
    state: IdentityState
    events: list[tuple[str, dict[str, Any]]] = []  # noqa: RUF012 - never mutated
    result: bool = False
    warning: str | None = None


def has_person_processing(state: IdentityState, profiles: PersonProfiles) -> bool:
    """R29: whether events of this identity create and update a person profile."""
    if profiles == "never":
        return False
    if profiles == "always":
        return True
    return state.identified or state.alias is not None or state.person_processing


def person_properties_hash(
    distinct_id: str, to_set: Mapping[str, Any] | None, to_set_once: Mapping[str, Any] | None
) -> str:
    """R11: deep-sorted JSON of what a $set/$identify carried, to skip identical repeats."""
    payload = {"distinct_id": distinct_id, "set": to_set or {}, "set_once": to_set_once or {}}
    return json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))


def _person_set(
    state: IdentityState,
    hash_id: str,
    to_set: Mapping[str, Any] | None,
    to_set_once: Mapping[str, Any] | None,
    session_id: str | None,
    *,
    force: bool,
) -> Outcome:
    """One $set event unless it repeats the last one sent this session (R11, A6)."""
    digest = person_properties_hash(hash_id, to_set, to_set_once)
    if not force and digest == state.person_props_hash and session_id == state.person_props_session:
        return Outcome(state)
    props = {"$set": dict(to_set or {}), "$set_once": dict(to_set_once or {})}
    new = state._replace(
        person_processing=True, person_props_hash=digest, person_props_session=session_id
    )
    return Outcome(new, [("$set", props)], result=True)


def identify(
    state: IdentityState,
    new_id: str,
    to_set: Mapping[str, Any] | None,
    to_set_once: Mapping[str, Any] | None,
    session_id: str | None,
) -> Outcome:
    """R7–R14 with decisions A1 (no $identify while identified) and A2 (previous distinct id)."""
    previous = state.distinct_id
    if not state.identified and new_id != previous:  # R7: the one merge
        keep_alias = new_id == state.alias  # R14: identifying as our own alias keeps the id
        new = state._replace(
            distinct_id=previous if keep_alias else new_id,
            anon_id=previous,
            identified=True,
            person_processing=True,
            alias=state.alias if keep_alias else None,
            person_props_hash=person_properties_hash(new_id, to_set, to_set_once),
            person_props_session=session_id,
        )
        props = {
            "distinct_id": new_id,
            "$anon_distinct_id": previous,
            "$set": dict(to_set or {}),
            "$set_once": dict(to_set_once or {}),
        }
        return Outcome(new, [("$identify", props)], result=True)
    if not state.identified:  # R9: already using this id, only the state changes
        new = state._replace(identified=True, person_processing=True)
        outcome = _person_set(new, new_id, to_set, to_set_once, session_id, force=True)
        return outcome._replace(result=True)
    warning = None
    if new_id not in (previous, state.alias):  # R12 / A1: never merge two identified users
        warning = (
            f"identify({new_id!r}) while identified as {previous!r}: switched ids without"
            " merging; call reset() when a user logs out"
        )
        state = state._replace(distinct_id=new_id, alias=None)
    if to_set or to_set_once:  # R10
        outcome = _person_set(state, new_id, to_set, to_set_once, session_id, force=False)
        return Outcome(outcome.state, outcome.events, result=True, warning=warning)
    return Outcome(state, result=True, warning=warning)


def alias(state: IdentityState, alias_id: str) -> Outcome:
    """R21/A16: link ``alias_id`` to the current distinct id, whose person survives."""
    props = {"alias": alias_id, "distinct_id": state.distinct_id}
    new = state._replace(alias=alias_id, person_processing=True)
    return Outcome(new, [("$create_alias", props)], result=True)


def merge_dangerously(state: IdentityState, other_id: str) -> Outcome:
    """W7/A17: merge ``other_id``'s person into the current one, even if it is identified."""
    new = state._replace(person_processing=True)
    return Outcome(new, [("$merge_dangerously", {"alias": other_id})], result=True)


def set_person_properties(
    state: IdentityState,
    to_set: Mapping[str, Any] | None,
    to_set_once: Mapping[str, Any] | None,
    session_id: str | None,
) -> Outcome:
    """R25: one $set carrying $set/$set_once, skipped when empty or a repeat."""
    if not to_set and not to_set_once:
        return Outcome(state)
    return _person_set(state, state.distinct_id, to_set, to_set_once, session_id, force=False)


def unset_person_properties(state: IdentityState, names: list[str]) -> Outcome:
    """R26: one $set carrying $unset; forgets the dedup hash."""
    if not names:
        return Outcome(state)
    new = state._replace(person_processing=True, person_props_hash=None, person_props_session=None)
    return Outcome(new, [("$set", {"$unset": names})], result=True)


def reset(
    state: IdentityState, reset_device_id: bool, new_id: Callable[[], str] = uuid7
) -> Outcome:
    """R15–R19: a new anonymous identity and session; the device id survives unless asked."""
    fresh = IdentityState.fresh(new_id=new_id)
    device_id = fresh.device_id if reset_device_id else state.device_id
    return Outcome(fresh._replace(device_id=device_id), result=True)
