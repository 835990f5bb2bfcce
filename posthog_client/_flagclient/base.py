"""What the flag methods of ``Client`` stand on: the flag machinery, built at the first flag use
(``service``), whom a call is for, and keeping an install's flags in step with its identity.
Imported with the package: it imports nothing costly."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._fork_safety import lazy_imports, renew_after_fork
from .._identity.context import current_context

if TYPE_CHECKING:
    from pathlib import Path

    from .._config import Options
    from .._identity.properties import EventProperties
    from .._identity.session import SessionTracker
    from .._identity.state import StateStore
    from .remote import FlagTarget
    from .service import FlagService

__all__ = ["FlagBase"]

_creation = threading.Lock()
renew_after_fork(globals(), "_creation")
_NO_USER = (
    "flags need a user here: pass distinct_id=..., or call it inside new_context() once the"
    " request's user is known"
)


class FlagBase:
    """Mixed into ``Client`` (through the flag methods); relies on its options, identity store,
    sessions and sending."""

    options: Options
    _store: StateStore
    _sessions: SessionTracker
    _properties: EventProperties
    _send: Callable[..., str | None]
    _flag_dir: Path | None
    _flag_service: FlagService | None = None
    has_opted_out: Callable[[], bool]
    _nobody: Callable[[str, str], tuple[bool, None]]
    strict: bool  # the identity half's property

    def _flags_identity_changed(
        self,
        *,
        reload: bool = False,
        to_set: Mapping[str, Any] | None = None,
        to_set_once: Mapping[str, Any] | None = None,
        unset: Iterable[str] = (),
        reset: bool = False,
    ) -> None:
        """The install's identity changed: keep its flags in step (C4, C6, G6). Properties set
        on the person are kept for flag requests; a process that uses flags reloads them."""
        service = self._flags_in_use()
        if service is None:
            return  # flags never used on this install: nothing to keep in step
        app, files = service.app, service.files()
        if reset:
            if app is not None:
                app.forget()
            elif files is not None:
                files.clear()
            return
        if files is not None and (to_set or to_set_once or unset):
            from .cache import merge_person_properties

            before = files.current().inputs
            after = files.update(lambda f: merge_person_properties(f, to_set, to_set_once, unset))
            reload = reload or after.inputs != before
        if reload and app is not None:
            app.reload()

    def _flags_in_use(self) -> FlagService | None:
        """The flag machinery if this process uses flags or an earlier run left some on disk
        (then it is built), else None: nothing to keep in step."""
        service = self._flag_service
        if service is None:
            directory = self._flag_dir
            if directory is None or not (directory / "flags.json").exists():
                return None
            service = self._flags()
        return service

    def _close_flags(self) -> None:
        service = self._flag_service
        if service is not None:
            service.close()

    def _flags(self) -> FlagService:
        service = self._flag_service
        if service is None:
            with _creation:
                if self._flag_service is None:
                    with lazy_imports():
                        from .service import FlagService

                    self._flag_service = FlagService(
                        self.options,
                        identity=self._store,
                        sessions=self._sessions,
                        properties=self._properties,
                        send=lambda event, props, who: self._send(event, props, None, None, who),
                        opted_out=self.has_opted_out,
                        directory=self._flag_dir,
                        # D8: an app's own choice; server mode's implied disable_geoip is for
                        # its events, and flag calls pass disable_geoip when they want it
                        geoip_disable=self.options.disable_geoip and self.options.mode == "desktop",
                    )
                service = self._flag_service
        return service

    def _flag_target(
        self,
        distinct_id: str | None,
        groups: Mapping[str, str | int] | None,
        person_properties: Mapping[str, Any] | None,
        group_properties: Mapping[str, Mapping[str, Any]] | None,
        device_id: str | None,
        disable_geoip: bool | None,
        *,
        own: bool = True,
    ) -> FlagTarget | bool:
        """Whom a flag call is for: True for the install's own flags in memory (unless
        ``own=False``), False for nobody (logged), else the user and what the call passed."""
        context = current_context()
        explicit = (distinct_id, groups, person_properties, group_properties, device_id)
        desktop = self.options.mode == "desktop" and context is None
        if own and desktop and all(value is None for value in explicit):
            return True
        if distinct_id is not None:
            who: str | None = distinct_id if type(distinct_id) is str else str(distinct_id)
            base: Mapping[str, Any] = {}
        elif context is not None:
            who, base = context.distinct_id, context.groups
        elif desktop:
            state = self._store.current()
            who, base = state.distinct_id, _persisted_groups(state.super_properties)
        else:
            who, base = None, {}
        if not who or who.isspace():
            self._nobody("feature flags", _NO_USER)
            return False
        from .remote import FlagTarget

        return FlagTarget(
            who,
            {**base, **(groups or {})},
            dict(person_properties or {}),
            {k: dict(v) for k, v in (group_properties or {}).items()},
            device_id,
            self._flags().geoip_disable if disable_geoip is None else disable_geoip,
        )


def _persisted_groups(super_properties: Mapping[str, Any]) -> Mapping[str, Any]:
    groups = super_properties.get("$groups")
    return groups if isinstance(groups, Mapping) else {}
