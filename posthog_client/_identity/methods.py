"""The identity half of ``Client``: identify, alias, reset, person properties, the getters.

Whom an operation acts on (README, "Which mode?"): an explicit ``distinct_id`` always wins and
leaves the client's own identity alone; else the current request context's user; else, in
desktop mode, the identity this install persists (the state machine in ``machine``). A
server-mode client has no identity of its own (A23): outside a context, an operation without an
explicit id has nobody to act on and is ignored with a WARNING (raised in strict mode).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._config import Options
from .._events.timestamps import now_timestamp
from .._exceptions import InvalidDistinctIdError
from .._guard import never_raises
from .._log import logger, warn_once
from . import machine as identity
from .context import current_context, identify_context
from .session import SessionTracker
from .state import IdentityState, StateStore
from .super_properties import SuperPropertyMethods, json_safe
from .validation import IdChecker

__all__ = ["IdentityMethods"]

_NO_CONTEXT_USER = (
    "inside new_context() without a distinct id: call identify_context() first or pass"
    " distinct_id=..."
)
_NO_SERVER_USER = (
    "a server-mode client has no user of its own outside new_context(): pass distinct_id=..."
    " or open a context"
)


class IdentityMethods(SuperPropertyMethods):
    """Mixed into ``Client``; relies on its options, store, sessions and event sending."""

    options: Options
    _store: StateStore
    _ids: IdChecker
    _sessions: SessionTracker

    # (event, properties, timestamp, uuid, explicit distinct id[, root distinct id]) -> uuid
    _send: Callable[..., str | None]
    # keeps the install's feature flags in step with its identity (the flag half of Client)
    _flags_identity_changed: Callable[..., None]

    @property
    def strict(self) -> bool:
        return self.options.strict

    def _emit(self, outcome: identity.Outcome, operation: str, before: IdentityState) -> None:
        """Send the events a change of this install's identity produced, and say what changed."""
        if outcome.warning:
            logger.warning("%s", outcome.warning)
        after = outcome.state
        if (after.distinct_id, after.identified) != (before.distinct_id, before.identified):
            logger.debug("identity: %s → %s (%s)", _who(before), _who(after), operation)
        for name, props in outcome.events:  # $identify's root id is the new id (W5)
            self._send(name, props, None, None, None, props.get("distinct_id"))

    def _emit_for(self, distinct_id: str, event: str, properties: dict[str, Any]) -> None:
        """Send a person event for ``distinct_id``: an explicit or a context's user."""
        self._send(event, properties, None, None, distinct_id)

    def _person_allowed(self, operation: str) -> bool:
        if self.options.person_profiles == "never":  # R13, R22
            logger.warning("%s() ignored: person_profiles is 'never'", operation)
            return False
        return True

    def _target(self, operation: str, explicit: object) -> tuple[bool, str | None]:
        """Whom a person operation acts on: (True, an explicit or the context's id), (True, None)
        for this install's own identity, or (False, None) when there is nobody (logged)."""
        if not self._person_allowed(operation):
            return False, None
        context = current_context()
        if explicit is not None:
            target = self._ids.for_identity(operation, explicit)
            if target is None:
                return False, None
            own = context is None and self.options.mode == "desktop"
            if own and target == self._store.current().distinct_id:
                return True, None  # the install's own id: keep its state in step
            return True, target
        if context is not None:
            if context.distinct_id is None:
                return self._nobody(operation, _NO_CONTEXT_USER)
            return True, context.distinct_id
        if self.options.mode == "server":
            return self._nobody(operation, _NO_SERVER_USER)
        return True, None

    def _nobody(self, operation: str, why: str) -> tuple[bool, None]:
        message = f"{operation}() ignored, nothing was sent: {why}"
        if self.strict:
            raise InvalidDistinctIdError(message)
        warn_once(f"nobody-{operation}-{why}", "%s", message)
        return False, None

    def _identified(
        self,
        state: IdentityState,
        new_id: str,
        to_set: Mapping[str, Any] | None,
        to_set_once: Mapping[str, Any] | None,
        session_id: str | None,
    ) -> identity.Outcome:
        """``identify`` of this install's own identity, run in the state's transaction (the
        Mixpanel mode replays the anonymous person updates here)."""
        return identity.identify(state, new_id, to_set, to_set_once, session_id)

    def _aliased(self, state: IdentityState, alias_id: str) -> identity.Outcome:
        """``alias`` of this install's own identity, run in the state's transaction."""
        return identity.alias(state, alias_id)

    def _current_session(self) -> str:
        return self._sessions.session_id(now_timestamp()[1], active=False)

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
        merging and warns: call ``reset()`` on logout. Inside ``new_context()`` it identifies
        the request's user instead, and in server mode outside a context it only sets
        ``properties`` on ``distinct_id`` (a ``$set``). Returns False if the id was refused.
        """
        new_id = self._ids.for_identity("identify", distinct_id)
        if new_id is None or not self._person_allowed("identify"):
            return False
        to_set, to_set_once = json_safe(properties, self.strict), json_safe(set_once, self.strict)
        context = current_context()
        if context is not None or self.options.mode == "server":  # never the server's own (A22)
            if context is not None:
                if context.distinct_id != new_id:
                    logger.debug("context identity: %s → %s", context.distinct_id, new_id)
                identify_context(new_id)
            if to_set or to_set_once:
                self._emit_for(new_id, "$set", _person_set(to_set, to_set_once))
            return True
        session_id = self._current_session()
        before = self._store.current()
        outcome = self._store.transact(
            lambda s: _paired(self._identified(s, new_id, to_set, to_set_once, session_id))
        )
        if not outcome.events and (to_set or to_set_once):
            logger.debug("identify(%r): same properties already sent this session (R11)", new_id)
        self._emit(outcome, "identify", before)
        self._flags_identity_changed(
            reload=outcome.state.distinct_id != before.distinct_id,
            to_set=to_set,
            to_set_once=to_set_once,
        )
        return outcome.result

    @never_raises(False)
    def alias(self, alias_id: str, *, distinct_id: str | None = None) -> bool:
        """Give a person a second id: ``alias_id`` joins the person of ``distinct_id`` (default:
        the current user), whose person survives (``$create_alias``)."""
        new_alias = self._ids.for_identity("alias", alias_id)
        if new_alias is None:
            return False
        found, target = self._target("alias", distinct_id)
        if not found:
            return False
        if target is not None:
            if target != new_alias:  # an id is already its own alias: nothing to link
                self._emit_for(target, "$create_alias", {"alias": new_alias, "distinct_id": target})
            return True
        if new_alias == self._store.current().distinct_id:  # R21: nothing to link
            return self.identify(new_alias)
        before = self._store.current()
        outcome = self._store.transact(lambda s: _paired(self._aliased(s, new_alias)))
        self._emit(outcome, "alias", before)
        return outcome.result

    @never_raises(False)
    def merge_dangerously(self, other_distinct_id: str, *, distinct_id: str | None = None) -> bool:
        """Merge ``other_distinct_id``'s person into ``distinct_id``'s (default: the current
        user's). Irreversible.

        Unlike ``alias`` this also merges a person that is already identified, so two real
        users can become one; use it only to repair data, and prefer ``alias``.
        """
        other = self._ids.for_identity("merge_dangerously", other_distinct_id)
        if other is None:
            return False
        found, target = self._target("merge_dangerously", distinct_id)
        if not found:
            return False
        if target is not None:
            self._emit_for(target, "$merge_dangerously", {"alias": other})
            return True
        before = self._store.current()
        outcome = self._store.transact(lambda s: _paired(identity.merge_dangerously(s, other)))
        self._emit(outcome, "merge_dangerously", before)
        return outcome.result

    @never_raises(None)
    def reset(self, reset_device_id: bool = False) -> None:
        """Forget the user (on logout): new anonymous id and session, super properties cleared.

        Sends nothing; queued events keep their ids; the consent choice is kept (A3). Inside
        ``new_context()`` the request's user is forgotten instead (later events are personless).
        """
        context = current_context()
        if context is not None:
            if context.distinct_id is not None:
                logger.debug("context identity: %s → None (reset)", context.distinct_id)
            context.distinct_id = None
            return
        if self.options.mode == "server":
            self._nobody("reset", _NO_SERVER_USER)
            return
        before = self._store.current()
        new_id = self._store.new_id
        outcome = self._store.transact(
            lambda s: _paired(identity.reset(s, reset_device_id, new_id))
        )
        self._sessions.forget()
        self._emit(outcome, "reset", before)
        self._flags_identity_changed(reset=True)

    @never_raises(None)
    def set_person_properties(
        self,
        set: Mapping[str, Any] | None = None,  # mirrors PostHog's $set
        set_once: Mapping[str, Any] | None = None,
        *,
        distinct_id: str | None = None,
    ) -> None:
        """Set properties on a person (``$set``/``$set_once``): ``distinct_id``'s, default the
        current user's; repeats for this install's own user are skipped."""
        found, target = self._target("set_person_properties", distinct_id)
        if not found:
            return
        to_set, to_set_once = json_safe(set, self.strict), json_safe(set_once, self.strict)
        if target is not None:
            if to_set or to_set_once:
                self._emit_for(target, "$set", _person_set(to_set, to_set_once))
            return
        session_id = self._current_session()
        before = self._store.current()
        outcome = self._store.transact(
            lambda s: _paired(identity.set_person_properties(s, to_set, to_set_once, session_id))
        )
        if not outcome.events and (to_set or to_set_once):
            logger.debug("$set skipped: same properties already sent this session (R11)")
        self._emit(outcome, "set_person_properties", before)
        self._flags_identity_changed(to_set=to_set, to_set_once=to_set_once)

    @never_raises(None)
    def unset_person_properties(
        self, names: str | Iterable[str], *, distinct_id: str | None = None
    ) -> None:
        """Remove properties from a person (``$unset``): ``distinct_id``'s, default the current
        user's."""
        found, target = self._target("unset_person_properties", distinct_id)
        if not found:
            return
        keys = [names] if isinstance(names, str) else list(names)
        keys = [k for k in keys if isinstance(k, str) and k]
        if target is not None:
            if keys:
                self._emit_for(target, "$set", {"$unset": keys})
            return
        before = self._store.current()
        outcome = self._store.transact(lambda s: _paired(identity.unset_person_properties(s, keys)))
        self._emit(outcome, "unset_person_properties", before)
        self._flags_identity_changed(unset=keys)

    # -- getters: what capture() would use now ---------------------------------------------------

    @never_raises("")
    def get_distinct_id(self) -> str:
        """The id events are sent under: the anonymous id, or the user's after ``identify``.

        Inside ``new_context()`` the context's id; "" when events would be personless (a
        context without an id, a server-mode client outside a context).
        """
        context = current_context()
        if context is not None:
            return context.distinct_id or ""
        if self.options.mode == "server":
            return ""
        self._store.refresh()
        return self._store.current().distinct_id

    @never_raises("")
    def get_device_id(self) -> str:
        """This install's stable id (``$device_id``); survives ``reset()`` unless asked. ""
        inside ``new_context()`` and in server mode, whose events carry none."""
        if current_context() is not None or self.options.mode == "server":
            return ""
        return self._store.current().device_id

    @never_raises("")
    def get_session_id(self) -> str:
        """The ``$session_id`` the next event carries; reading it does not extend the session.

        After the idle timeout it starts the next session rather than return an expired id.
        Inside ``new_context()`` the context's session id; "" when events carry none.
        """
        context = current_context()
        if context is not None:
            return context.session_id or ""
        if self.options.mode == "server":
            return ""
        self._store.refresh()
        return self._current_session()

    @never_raises(False)
    def is_identified(self) -> bool:
        """True after ``identify`` until ``reset`` (inside a context: whether it has an id)."""
        context = current_context()
        if context is not None:
            return context.distinct_id is not None
        if self.options.mode == "server":
            return False
        self._store.refresh()
        return self._store.current().identified


def _paired(outcome: identity.Outcome) -> tuple[IdentityState, identity.Outcome]:
    return outcome.state, outcome


def _person_set(
    to_set: Mapping[str, Any] | None, to_set_once: Mapping[str, Any] | None
) -> dict[str, Any]:
    return {"$set": dict(to_set or {}), "$set_once": dict(to_set_once or {})}


def _who(state: IdentityState) -> str:
    return state.distinct_id if state.identified else f"anonymous {state.distinct_id}"
