"""The legacy model, ID merge disabled: the seed's alias lookup table (MI2–MI6, MS6–MS9).

``$create_alias {alias: A, distinct_id: T}`` adds ``A → T``; an alias points at one id only and
aliases chain. Events and profile updates are attributed when they arrive, to the id their
distinct id resolves to then, so a later alias never moves them (MI4), which reproduces the
race of an event sent with the new id before its alias (MI5). ``$identify`` and ``$merge`` are
plain events.
"""

from __future__ import annotations

from ._checks import CheckedEvent
from ._identity import Attribution, PersonIds
from ._store import Store

__all__ = ["LegacyModel"]


class LegacyModel:
    """MS6–MS9 on the store's ``aliases`` table."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def attribute(self, event: CheckedEvent, privileged: bool) -> Attribution:
        failure = description = None
        if event.name == "$create_alias" and event.identity is not None:
            failure, description = self._create_alias(*event.identity)
        return Attribution(self._resolve(event.distinct_id), failure, description)

    def profile_owner(self, distinct_id: str, ignore_alias: bool) -> str:
        # MA17: $delete with $ignore_alias deletes the profile keyed by the alias itself
        return distinct_id if ignore_alias else self._resolve(distinct_id)

    def person(self, distinct_id: str) -> PersonIds | None:
        if not self._store.seen(distinct_id):
            return None
        return self.person_at(self._resolve(distinct_id))

    def person_at(self, key: str) -> PersonIds:
        ids = [key]
        for target in ids:  # grows while iterating: aliases of aliases (chains)
            ids.extend(self._store.aliases_of(target))
        return PersonIds(key, tuple(ids), (key,), (key,))

    def _create_alias(self, alias: str, target: str) -> tuple[str | None, str | None]:
        """MS7; returns the refusal (reason, description) or (None, None)."""
        existing = self._store.alias_target(alias)
        if existing is not None:
            return (
                "errAliasAlreadyExists",
                f"{alias!r} is already an alias of {existing!r}; an alias points at one id only",
            )
        if self._resolve(target) == alias:  # local rule: the table must stay acyclic
            return "errAliasCycle", f"{target!r} already resolves to {alias!r}"
        self._store.see(alias)
        self._store.add_alias(alias, target)
        return None, None

    def _resolve(self, distinct_id: str) -> str:
        current = distinct_id
        while (target := self._store.alias_target(current)) is not None:
            current = target
        return current
