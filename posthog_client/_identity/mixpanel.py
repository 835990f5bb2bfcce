"""The identity half of ``Client`` when Mixpanel is the backend (mixpanel-spec §4; D3–D8).

``MixpanelIdentityMethods`` sits over ``IdentityMethods``: with ``mixpanel_token`` set it applies
Mixpanel's rules around PostHog's state machine, else it passes every call on unchanged.

- Ids: a UUID v4 device id (D3, drawn by the store: ``identity_factory``); while anonymous,
  ``get_distinct_id()`` is ``"$device:" + device id``, the id Mixpanel files the events under.
- ``identify``: an id starting ``$device:`` is refused (V8, MC3). Under Simplified and legacy,
  the person updates made while anonymous are replayed onto the user with the ``$identify``
  (D7): Mixpanel leaves them on the device's profile (MI17).
- ``alias``: refused under Simplified (D5). Elsewhere ``$create_alias`` alone: the local id does
  not change, so this install's next events cannot race ahead of it (MI5), and nothing is
  remembered: Mixpanel refuses an id already used as an alias (``errAliasAlreadyExists``, a
  returning user's second device), and the ``identify`` that follows must then switch to the
  user's id, the seed's remedy, rather than keep the device's id as PostHog mode does (R14).
- ``merge_dangerously``: only under Original, with a service account (D8).
- ``reset``: always a new device id (D4), with a one-time WARNING when asked to keep it.
- ``register``: Mixpanel's wire properties (``token``, ``time``, ``$insert_id``…) are refused.

``_mixpanel`` is imported only by a Mixpanel client, off the import path of the package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._events.uuid7 import uuid7
from .._exceptions import InvalidDistinctIdError
from .._fork_safety import lazy_imports
from .._guard import never_raises
from .._log import logger, warn_once
from . import machine as identity
from .context import current_context
from .methods import IdentityMethods
from .super_properties import json_safe

if TYPE_CHECKING:
    from types import ModuleType

    from .._config import Options
    from .._types import MixpanelIdMerge
    from .state import IdentityState

__all__ = ["MixpanelIdentityMethods", "identity_factory"]

# The models under which a device's profile stays apart from the user's (D7); Original merges it.
_REPLAYING = ("simplified", "legacy")


def _rules() -> ModuleType:
    with lazy_imports():  # a fork waits for it
        from .. import _mixpanel
    return _mixpanel


def identity_factory(options: Options) -> Callable[[], str]:
    """What draws a new identity's ids: UUID v4 for Mixpanel (D3), else PostHog's UUIDv7."""
    if options.mixpanel_token is None:
        return uuid7
    new_device_id: Callable[[], str] = _rules().new_device_id
    return new_device_id


class MixpanelIdentityMethods(IdentityMethods):
    """Mixed into ``Client``; ``_mixpanel`` is the project's ID-merge model, None for PostHog."""

    _mixpanel: MixpanelIdMerge | None

    def _own_identity(self) -> bool:
        return current_context() is None and self.options.mode == "desktop"

    def _unsupported(self, operation: str, why: str) -> bool:
        warn_once(f"mixpanel-{why}", "%s() ignored, nothing was sent: %s", operation, why)
        return False

    @never_raises(False)
    def identify(
        self,
        distinct_id: str,
        properties: Mapping[str, Any] | None = None,
        *,
        set_once: Mapping[str, Any] | None = None,
    ) -> bool:
        if self._mixpanel is not None and isinstance(distinct_id, str):
            refusal = _rules().identify_refusal(distinct_id)
            if refusal is not None:
                message = f"identify() refused: {refusal}"
                if self.strict:
                    raise InvalidDistinctIdError(message)
                logger.warning("%s", message)
                return False
        return super().identify(distinct_id, properties, set_once=set_once)

    @never_raises(False)
    def alias(self, alias_id: str, *, distinct_id: str | None = None) -> bool:
        if self._mixpanel is not None:
            refusal = _rules().alias_refusal(self._mixpanel)
            if refusal is not None:
                return self._unsupported("alias", refusal)
        return super().alias(alias_id, distinct_id=distinct_id)

    @never_raises(False)
    def merge_dangerously(self, other_distinct_id: str, *, distinct_id: str | None = None) -> bool:
        if self._mixpanel is not None:
            account = self.options.mixpanel_service_account is not None
            refusal = _rules().merge_refusal(self._mixpanel, account)
            if refusal is not None:
                return self._unsupported("merge_dangerously", refusal)
        return super().merge_dangerously(other_distinct_id, distinct_id=distinct_id)

    @never_raises(None)
    def reset(self, reset_device_id: bool = False) -> None:
        if self._mixpanel is not None and self._own_identity():
            warning = _rules().reset_warning(reset_device_id)
            if warning is not None:
                warn_once("mixpanel-reset", "%s", warning)
            reset_device_id = True
        super().reset(reset_device_id)

    @never_raises(None)
    def set_person_properties(
        self,
        set: Mapping[str, Any] | None = None,  # mirrors PostHog's $set
        set_once: Mapping[str, Any] | None = None,
        *,
        distinct_id: str | None = None,
    ) -> None:
        super().set_person_properties(set, set_once, distinct_id=distinct_id)
        if self._replays(distinct_id):
            to_set, to_set_once = json_safe(set, False), json_safe(set_once, False)
            self._remember(
                lambda ops: _rules().fold_person_ops(ops, set=to_set, set_once=to_set_once)
            )

    @never_raises(None)
    def unset_person_properties(
        self, names: str | Iterable[str], *, distinct_id: str | None = None
    ) -> None:
        super().unset_person_properties(names, distinct_id=distinct_id)
        if self._replays(distinct_id):
            keys = [names] if isinstance(names, str) else list(names)
            unset = [key for key in keys if isinstance(key, str) and key]
            self._remember(lambda ops: _rules().fold_person_ops(ops, unset=unset))

    def _replays(self, distinct_id: str | None) -> bool:
        """Whether a person update of this install's own user is kept for replay (D7)."""
        return (
            self._mixpanel in _REPLAYING
            and distinct_id is None
            and self.options.person_profiles != "never"
            and self._own_identity()
        )

    def _remember(self, fold: Callable[[Mapping[str, Any]], dict[str, Any]]) -> None:
        def change(state: IdentityState) -> tuple[IdentityState, None]:
            if state.identified:  # sent to the user already: nothing to replay
                return state, None
            return state._replace(pending_person_ops=fold(state.pending_person_ops)), None

        self._store.transact(change)

    def _aliased(self, state: IdentityState, alias_id: str) -> identity.Outcome:
        outcome = super()._aliased(state, alias_id)
        if self._mixpanel is None:
            return outcome
        return outcome._replace(state=state)  # sent, not assumed: Mixpanel may refuse it

    def _identified(
        self,
        state: IdentityState,
        new_id: str,
        to_set: Mapping[str, Any] | None,
        to_set_once: Mapping[str, Any] | None,
        session_id: str | None,
    ) -> identity.Outcome:
        pending = state.pending_person_ops
        if not pending or state.identified or new_id == state.distinct_id:
            return super()._identified(state, new_id, to_set, to_set_once, session_id)
        rules = _rules()
        updates = rules.person_updates(
            rules.fold_person_ops(pending, set=to_set, set_once=to_set_once)
        )
        cleared = state._replace(pending_person_ops={})
        outcome = super()._identified(
            cleared, new_id, updates.get("$set"), updates.get("$set_once"), session_id
        )
        for _, properties in outcome.events:  # the $identify: its person updates go to the user
            if updates.get("$unset"):
                properties["$unset"] = updates["$unset"]
        return outcome

    @never_raises("")
    def get_distinct_id(self) -> str:
        distinct_id: str = super().get_distinct_id()
        if self._mixpanel is None or not distinct_id or not self._own_identity():
            return distinct_id
        state = self._store.current()
        if distinct_id == state.device_id or not state.identified:
            device_distinct_id: Callable[[str], str] = _rules().device_distinct_id
            return device_distinct_id(distinct_id)  # the id Mixpanel files the events under
        return distinct_id

    def _super_properties(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        clean = super()._super_properties(properties)
        if self._mixpanel is None:
            return clean
        reserved = _rules().reserved_properties(clean)
        if reserved:
            logger.warning(
                "register() ignored properties Mixpanel's wire sets itself: %s", ", ".join(reserved)
            )
        return {key: value for key, value in clean.items() if key not in reserved}
