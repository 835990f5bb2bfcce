"""The feature-flag half of ``Client``: reading flags, loading them, overriding them.

Whose flags (README, "Feature flags and groups"): with no ``distinct_id`` and no properties,
outside a context, a desktop app reads its install's flags from memory (``app``); otherwise the
flags of ``distinct_id``, else of the context's user, are evaluated for that call
(``remote``). This module is imported with the package, so it imports nothing costly: the
machinery (``service``) is built at the first flag use (``base``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._guard import never_raises
from .._identity.context import current_context
from .._log import logger, warn_once
from .base import FlagBase

if TYPE_CHECKING:
    from .app import FlagsCallback

__all__ = ["FlagMethods"]


class FlagMethods(FlagBase):
    """The public flag methods of ``Client``."""

    @never_raises(None)
    def get_feature_flag(
        self,
        key: str,
        *,
        distinct_id: str | None = None,
        groups: Mapping[str, str | int] | None = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        device_id: str | None = None,
        only_evaluate_locally: bool = False,
        send_event: bool = True,
        disable_geoip: bool | None = None,
    ) -> bool | str | None:
        """The flag's value: its variant, ``True`` or ``False``; ``None`` when unknown.

        A desktop app's own flags come from memory (loaded in the background at first use,
        kept on disk); with ``distinct_id`` (default: the context's user), groups or properties,
        the flag is evaluated for that user, locally when a ``secret_key`` allows it, else
        by one ``/flags`` request. Sends ``$feature_flag_called`` once per flag and value per
        user and session unless ``send_event=False``.
        """
        if (
            distinct_id is None
            and groups is None
            and person_properties is None
            and group_properties is None
            and device_id is None
            and self.options.mode == "desktop"
            and current_context() is None
            and isinstance(key, str)
        ):  # the hot path: the install's own flags, from memory
            service = self._flag_service or self._flags()
            app = service.app or service.app_flags()
            value = app.value(key)
            if send_event:
                app.report(key, value)
            return value
        if not _valid_key(key):
            return None
        target = self._flag_target(
            distinct_id, groups, person_properties, group_properties, device_id, disable_geoip
        )
        if isinstance(target, bool):
            return None
        service = self._flags()
        remote = service.remote()
        evaluation = remote.evaluate(key, target, only_local=only_evaluate_locally)
        value = evaluation.value
        extra = {}
        if key in service.overrides.values:
            extra["original"], value = value, service.overrides.values[key]
        if send_event:
            remote.report(key, evaluation._replace(value=value), target, **extra)
        return value

    def feature_enabled(
        self,
        key: str,
        *,
        distinct_id: str | None = None,
        groups: Mapping[str, str | int] | None = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        device_id: str | None = None,
        only_evaluate_locally: bool = False,
        send_event: bool = True,
        disable_geoip: bool | None = None,
    ) -> bool | None:
        """Whether the flag is on (any variant counts); ``None`` when unknown. Same arguments
        and event as ``get_feature_flag``."""
        value = self.get_feature_flag(
            key,
            distinct_id=distinct_id,
            groups=groups,
            person_properties=person_properties,
            group_properties=group_properties,
            device_id=device_id,
            only_evaluate_locally=only_evaluate_locally,
            send_event=send_event,
            disable_geoip=disable_geoip,
        )
        return None if value is None else value is not False

    @never_raises(None)
    def get_feature_flag_payload(
        self,
        key: str,
        *,
        distinct_id: str | None = None,
        groups: Mapping[str, str | int] | None = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        device_id: str | None = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
    ) -> Any:
        """The JSON payload of the flag's current value (decoded), or None; sends no event."""
        if not _valid_key(key):
            return None
        service = self._flags()
        target = self._flag_target(
            distinct_id, groups, person_properties, group_properties, device_id, disable_geoip
        )
        if isinstance(target, bool):
            return service.app_flags().payload(key) if target else None
        if key in service.overrides.payloads:
            return service.overrides.payloads[key]
        evaluation = service.remote().evaluate(key, target, only_local=only_evaluate_locally)
        from .values import decode_payload

        info = evaluation.info
        return decode_payload(info.payload) if evaluation.value and info is not None else None

    @never_raises({})
    def get_all_flags(
        self,
        *,
        distinct_id: str | None = None,
        groups: Mapping[str, str | int] | None = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        device_id: str | None = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
    ) -> dict[str, bool | str]:
        """Every flag's value (whom for: as ``get_feature_flag``); sends no event."""
        service = self._flags()
        target = self._flag_target(
            distinct_id, groups, person_properties, group_properties, device_id, disable_geoip
        )
        if isinstance(target, bool):
            return service.app_flags().values() if target else {}
        found = service.remote().evaluate_all(target, only_local=only_evaluate_locally)
        values = {key: info.value for key, info in found.items()}
        values.update(service.overrides.values)
        return values

    @never_raises(None)
    def reload_feature_flags(self) -> None:
        """Load the install's flags again now, in the background (server mode: the flag
        definitions of local evaluation, if any)."""
        service = self._flags()
        if self.options.mode == "desktop":
            service.app_flags().reload()
        else:
            service.reload_definitions()

    @never_raises(False)
    def wait_for_flags(self, timeout_s: float | None = 3.0) -> bool:
        """Wait until the install's flags came from PostHog in this process (asking for them
        if needed); True if they did within ``timeout_s``. Server mode: loads the definitions
        of local evaluation and says whether there are any."""
        service = self._flags()
        if self.options.mode == "desktop":
            return service.app_flags().wait(timeout_s)
        return service.reload_definitions()

    @never_raises(lambda: None)
    def on_feature_flags(self, callback: FlagsCallback) -> Callable[[], None]:
        """Call ``callback(flags, errors_loading)`` after each load of the install's flags and
        each override, and at once if flags are known; returns a function that unsubscribes."""
        if self.options.mode != "desktop":
            warn_once("on_feature_flags-server", "on_feature_flags() is for desktop apps; ignored")
            return lambda: None
        return self._flags().app_flags().subscribe(callback)

    @never_raises(None)
    def override_feature_flags(
        self,
        flags: Mapping[str, bool | str] | Iterable[str] | None,
        *,
        payloads: Mapping[str, Any] | None = None,
    ) -> None:
        """Force flag values for development and tests (a dict of values, or a list of keys
        to turn on); ``None`` removes every override. In memory, for any user; see also the
        ``POSTHOG_CLIENT_FLAGS`` environment variable."""
        from .overrides import overrides_from

        self._flags().set_overrides(overrides_from(flags, payloads, strict=self.strict))

    @never_raises(None)
    def get_remote_config_payload(self, key: str) -> Any:
        """A remote config flag's payload (decoded JSON). With a ``secret_key``, PostHog
        decrypts it; else it is asked of ``/flags`` for the install's (or the context's) user."""
        if not _valid_key(key):
            return None
        service = self._flags()
        from .values import decode_payload

        if service.transport.secret_key is not None:
            return decode_payload(service.transport.remote_config(key))
        target = self._flag_target(None, None, None, None, None, None, own=False)
        if isinstance(target, bool):
            return None
        evaluation = service.remote().evaluate(key, target, only_local=False)
        info = evaluation.info
        return decode_payload(info.payload) if info is not None else None


def _valid_key(key: object) -> bool:
    if isinstance(key, str) and key:
        return True
    logger.warning("flag key %r is not a non-empty string; read as unknown", key)
    return False
