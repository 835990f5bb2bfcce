"""Groups (spec §6): ``group()`` for the install's identity (G1, G2, G6), for a request context
and for a backend outside one (G3), with PostHog's limit of five group types (G4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .._guard import never_raises
from .._identity.context import current_context
from .._identity.state import IdentityState
from .._identity.super_properties import json_safe
from .._log import logger, warn_once
from .methods import FlagMethods

__all__ = ["MAX_GROUP_TYPES", "GroupMethods"]

MAX_GROUP_TYPES: Final = 5  # G4: a project's sixth group type is ignored by ingestion
GROUP_IDENTIFY: Final = "$groupidentify"


class GroupMethods(FlagMethods):
    """``group()``, mixed into ``Client`` with the flag methods it reloads."""

    @never_raises(None)
    def group(
        self,
        group_type: str,
        group_key: str | int,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Put the user in a group (a company, a team…) for analytics and group flags.

        Desktop: kept with the identity (every later event carries ``$groups``, ``reset()``
        forgets them), ``$groupidentify`` sent for a new key or new ``properties``, and the
        flags reloaded. Inside ``new_context()``: the request's events carry the group and
        ``properties`` (if any) are sent for it. Server mode outside a context: only sends
        ``$groupidentify`` with ``properties``. At most five group types.
        """
        if isinstance(group_key, int) and not isinstance(group_key, bool):
            group_key = str(group_key)
        if not isinstance(group_type, str) or not group_type.strip():
            logger.warning("group() ignored: the group type %r is empty", group_type)
            return
        if not isinstance(group_key, str) or not group_key.strip():
            logger.warning("group(%r) ignored: the group key %r is empty", group_type, group_key)
            return
        if self.options.person_profiles == "never":  # groups live on persons' events (G2)
            logger.warning("group() ignored: person_profiles is 'never'")
            return
        props = json_safe(properties, self.strict) or {}
        context = current_context()
        if context is not None:
            if _full(context.groups, group_type):
                return
            context.groups = {**context.groups, group_type: group_key}
            if props:
                who = context.distinct_id or f"${group_type}_{group_key}"
                self._send(GROUP_IDENTIFY, _identify(group_type, group_key, props), None, None, who)
            return
        if self.options.mode == "server":
            who = f"${group_type}_{group_key}"
            self._send(GROUP_IDENTIFY, _identify(group_type, group_key, props), None, None, who)
            return
        self._own_group(group_type, group_key, props)

    def _own_group(self, group_type: str, group_key: str, props: dict[str, Any]) -> None:
        def change(state: IdentityState) -> tuple[IdentityState, bool | None]:
            groups = dict(state.super_properties.get("$groups") or {})
            if _full(groups, group_type):
                return state, None
            changed = groups.get(group_type) != group_key
            groups[group_type] = group_key
            supers = {**state.super_properties, "$groups": groups}
            return state._replace(super_properties=supers, person_processing=True), changed

        changed = self._store.transact(change)
        if changed is None:
            return
        if not changed and not props:
            return
        self._send(GROUP_IDENTIFY, _identify(group_type, group_key, props), None, None, None)
        service = self._flags_in_use()
        files = service.files() if service is not None else None
        if files is not None:
            from .cache import merge_group_properties

            files.update(lambda f: merge_group_properties(f, group_type, props, new_key=changed))
        if service is not None and service.app is not None:
            service.app.reload()

    def _event_extras(
        self,
        properties: Mapping[str, Any] | None,
        explicit_id: str | None,
        groups: Mapping[str, str | int] | None,
        send_feature_flags: bool,
    ) -> dict[str, Any]:
        """``capture(groups=..., send_feature_flags=True)``: the event's properties with its
        groups (over the context's or the install's) and its user's flags (SR8; the caller's
        own properties win)."""
        props = dict(properties or {})
        context = current_context()
        desktop = self.options.mode == "desktop" and context is None and explicit_id is None
        if groups:
            base: Mapping[str, Any] = {}
            if context is not None:
                base = context.groups
            elif desktop:
                base = self._store.current().super_properties.get("$groups") or {}
            given = {str(t): str(k) for t, k in groups.items()}
            props["$groups"] = {**base, **(props.get("$groups") or {}), **given}
        if send_feature_flags:
            from .reporting import event_flag_properties

            values = self.get_all_flags(distinct_id=explicit_id, groups=groups)
            props = {**event_flag_properties(values), **props}
        return props


def _full(groups: Mapping[str, Any], group_type: str) -> bool:
    if group_type in groups or len(groups) < MAX_GROUP_TYPES:
        return False
    warn_once(
        f"group-types-{group_type}",
        "group(%r) ignored: PostHog keeps at most %d group types (already %s)",
        group_type,
        MAX_GROUP_TYPES,
        ", ".join(sorted(groups)),
    )
    return True


def _identify(group_type: str, group_key: str, props: dict[str, Any]) -> dict[str, Any]:
    """G2: the group's type, key and properties to set (``{}`` when none)."""
    return {"$group_type": group_type, "$group_key": group_key, "$group_set": props}
