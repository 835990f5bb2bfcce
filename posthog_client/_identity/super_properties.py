"""Super properties (identity-spec R33–R35): ``register``, ``register_once``, ``unregister``.

They are persisted with the identity in desktop mode (so ``reset()`` clears them) and kept in
memory in server mode; either way they are sent with every later event of the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .._events.encoding import to_json_value
from .._exceptions import InvalidEventError
from .._guard import never_raises
from .._log import logger
from .state import IdentityState, StateStore

__all__ = ["SuperPropertyMethods", "json_safe"]

_RESERVED_SUPER_PROPERTIES: Final = frozenset(
    {"distinct_id", "$session_id", "$device_id", "$is_identified", "$process_person_profile",
     "$anon_distinct_id", "$set", "$set_once", "$unset", "$is_server"}
)  # fmt: skip


class SuperPropertyMethods:
    """Mixed into ``Client`` (through ``IdentityMethods``); relies on its store."""

    _store: StateStore

    @property
    def strict(self) -> bool:
        raise NotImplementedError

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
        clean = {k: v for k, v in properties.items() if k not in reserved}
        return json_safe(clean, self.strict) or {}


def _with_super(state: IdentityState, properties: dict[str, Any]) -> IdentityState:
    return state._replace(super_properties=properties)


def json_safe(properties: Mapping[str, Any] | None, strict: bool) -> dict[str, Any] | None:
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
