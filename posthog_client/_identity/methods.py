"""The identity half of ``Client``: identify, alias, reset, super and person properties."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._config import Options
from .._events.encoding import to_json_value
from .._events.timestamps import now_timestamp
from .._exceptions import InvalidEventError
from .._guard import never_raises
from .._log import logger
from . import machine as identity
from .context import RequestContext, current_context, identify_context
from .state import IdentityState, StateStore
from .validation import IdChecker

__all__ = ["IdentityMethods"]

_RESERVED_SUPER_PROPERTIES = frozenset(
    {"distinct_id", "$session_id", "$device_id", "$is_identified", "$process_person_profile",
     "$anon_distinct_id", "$set", "$set_once", "$unset", "$is_server"}
)  # fmt: skip


class IdentityMethods:
    """Mixed into ``Client``; relies on its store, id checker, session and event emission."""

    options: Options
    _store: StateStore
    _ids: IdChecker

    def _session_id(self, now_ms: int, *, active: bool) -> str:
        raise NotImplementedError

    def _emit(self, events: list[tuple[str, dict[str, Any]]], warning: str | None = None) -> None:
        raise NotImplementedError

    def _forget_session_activity(self) -> None:
        raise NotImplementedError

    @property
    def strict(self) -> bool:
        return self.options.strict

    def _person_allowed(self, operation: str) -> bool:
        if self.options.person_profiles == "never":  # R13, R22
            logger.warning("%s() ignored: person_profiles is 'never'", operation)
            return False
        return True

    def _current_session(self) -> str:
        return self._session_id(now_timestamp()[1], active=False)

    @never_raises(False)
    def identify(
        self,
        distinct_id: str,
        properties: Mapping[str, Any] | None = None,
        *,
        set_once: Mapping[str, Any] | None = None,
    ) -> bool:
        """Link this device's anonymous history to ``distinct_id`` (the user's id).

        Sends one ``$identify`` the first time (merging the anonymous person into the user);
        repeating the call with the same id and properties in the same session sends nothing,
        also from another process. While identified as someone else it switches ids without
        merging and warns: call ``reset()`` on logout. Returns False if the id was refused.
        """
        new_id = self._ids.for_identity("identify", distinct_id)
        if new_id is None or not self._person_allowed("identify"):
            return False
        to_set, to_set_once = _json_safe(properties, self.strict), _json_safe(set_once, self.strict)
        context = current_context()
        if context is not None:  # a request's user, not this server's own identity (A22)
            identify_context(new_id)
            if to_set or to_set_once:
                self._emit([("$set", {"$set": to_set or {}, "$set_once": to_set_once or {}})])
            return True
        session_id = self._current_session()
        outcome = self._store.transact(
            lambda s: _paired(identity.identify(s, new_id, to_set, to_set_once, session_id))
        )
        self._emit(outcome.events, outcome.warning)
        return outcome.result

    @never_raises(False)
    def alias(self, alias_id: str) -> bool:
        """Give the current user a second id (``alias_id``); the current id's person survives."""
        new_alias = self._ids.for_identity("alias", alias_id)
        if new_alias is None or not self._person_allowed("alias"):
            return False
        context = current_context()
        if context is not None:
            return self._for_context_user(context, "alias", "$create_alias", {"alias": new_alias})
        if new_alias == self._store.current().distinct_id:  # R21: nothing to link
            return self.identify(new_alias)
        outcome = self._store.transact(lambda s: _paired(identity.alias(s, new_alias)))
        self._emit(outcome.events)
        return outcome.result

    @never_raises(False)
    def merge_dangerously(self, other_distinct_id: str) -> bool:
        """Merge ``other_distinct_id``'s person into the current one. Irreversible.

        Unlike ``alias`` this also merges a person that is already identified, so two real
        users can become one; use it only to repair data, and prefer ``alias``.
        """
        other = self._ids.for_identity("merge_dangerously", other_distinct_id)
        if other is None or not self._person_allowed("merge_dangerously"):
            return False
        context = current_context()
        if context is not None:
            return self._for_context_user(
                context, "merge_dangerously", "$merge_dangerously", {"alias": other}
            )
        outcome = self._store.transact(lambda s: _paired(identity.merge_dangerously(s, other)))
        self._emit(outcome.events)
        return outcome.result

    @never_raises(None)
    def reset(self, reset_device_id: bool = False) -> None:
        """Forget the user (on logout): new anonymous id and session, super properties cleared.

        Sends nothing; queued events keep their ids; the consent choice is kept (A3).
        """
        context = current_context()
        if context is not None:  # the request's user logged out: later events are personless
            context.distinct_id = None
            return
        self._store.transact(lambda s: _paired(identity.reset(s, reset_device_id)))
        self._forget_session_activity()

    @never_raises(None)
    def set_person_properties(
        self,
        set: Mapping[str, Any] | None = None,  # mirrors PostHog's $set
        set_once: Mapping[str, Any] | None = None,
    ) -> None:
        """Set properties on the current person (``$set``/``$set_once``); repeats are skipped."""
        if not self._person_allowed("set_person_properties"):
            return
        to_set, to_set_once = _json_safe(set, self.strict), _json_safe(set_once, self.strict)
        context = current_context()
        if context is not None:
            if to_set or to_set_once:
                props = {"$set": to_set or {}, "$set_once": to_set_once or {}}
                self._for_context_user(context, "set_person_properties", "$set", props)
            return
        session_id = self._current_session()
        outcome = self._store.transact(
            lambda s: _paired(identity.set_person_properties(s, to_set, to_set_once, session_id))
        )
        self._emit(outcome.events)

    @never_raises(None)
    def unset_person_properties(self, names: str | Iterable[str]) -> None:
        """Remove properties from the current person (``$unset``)."""
        if not self._person_allowed("unset_person_properties"):
            return
        keys = [names] if isinstance(names, str) else list(names)
        keys = [k for k in keys if isinstance(k, str) and k]
        context = current_context()
        if context is not None:
            if keys:
                self._for_context_user(context, "unset_person_properties", "$set", {"$unset": keys})
            return
        outcome = self._store.transact(lambda s: _paired(identity.unset_person_properties(s, keys)))
        self._emit(outcome.events)

    def _for_context_user(
        self, context: RequestContext, operation: str, event: str, properties: dict[str, Any]
    ) -> bool:
        """Inside ``new_context()`` person operations apply to the request's user (R38)."""
        if context.distinct_id is None:
            logger.warning(
                "%s() inside new_context() without a distinct id: nothing sent;"
                " call identify_context() first",
                operation,
            )
            return False
        self._emit([(event, {**properties, "distinct_id": context.distinct_id})])
        return True

    @never_raises(None)
    def register(self, properties: Mapping[str, Any]) -> None:
        """Add super properties: persisted, sent with every later event, cleared by ``reset``."""
        clean = self._super_properties(properties)
        if clean:
            self._store.transact(lambda s: (_with_super(s, {**s.super_properties, **clean}), None))

    @never_raises(None)
    def register_once(self, properties: Mapping[str, Any], default_value: Any = None) -> None:
        """Like ``register``, but only for keys not set yet (or set to ``default_value``)."""
        clean = self._super_properties(properties)

        def change(s: IdentityState) -> tuple[IdentityState, None]:
            current = dict(s.super_properties)
            for key, value in clean.items():
                if current.get(key, default_value) == default_value:
                    current[key] = value
            return _with_super(s, current), None

        if clean:
            self._store.transact(change)

    @never_raises(None)
    def unregister(self, key: str) -> None:
        """Remove one super property."""

        def change(s: IdentityState) -> tuple[IdentityState, None]:
            rest = {k: v for k, v in s.super_properties.items() if k != key}
            return _with_super(s, rest), None

        self._store.transact(change)

    def _super_properties(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        reserved = sorted(k for k in properties if k in _RESERVED_SUPER_PROPERTIES)
        if reserved:
            logger.warning("register() ignored reserved properties: %s", ", ".join(reserved))
        return (
            _json_safe({k: v for k, v in properties.items() if k not in reserved}, self.strict)
            or {}
        )

    @never_raises("")
    def get_distinct_id(self) -> str:
        """The id events are sent under: the anonymous id, or the user's after ``identify``."""
        self._store.refresh()
        return self._store.current().distinct_id

    @never_raises("")
    def get_device_id(self) -> str:
        """This install's stable id (``$device_id``); survives ``reset()`` unless asked."""
        return self._store.current().device_id

    @never_raises("")
    def get_session_id(self) -> str:
        """The current ``$session_id`` (reading it does not extend the session)."""
        return self._current_session()

    @never_raises(False)
    def is_identified(self) -> bool:
        """True after ``identify`` until ``reset``."""
        self._store.refresh()
        return self._store.current().identified


def _paired(outcome: identity.Outcome) -> tuple[IdentityState, identity.Outcome]:
    return outcome.state, outcome


def _with_super(state: IdentityState, properties: dict[str, Any]) -> IdentityState:
    return state._replace(super_properties=properties)


def _json_safe(properties: Mapping[str, Any] | None, strict: bool) -> dict[str, Any] | None:
    """Properties as they will be stored and sent, so hashes and files match the wire."""
    if properties is None:
        return None
    problems: list[str] = []
    clean = to_json_value(dict(properties), "", problems, set())
    if problems:
        if strict:
            raise InvalidEventError("; ".join(problems))
        logger.warning("properties adjusted: %s", "; ".join(problems))
    assert isinstance(clean, dict)
    return clean
