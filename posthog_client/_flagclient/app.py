"""The flags of this install's identity, for desktop and CLI apps (spec §2, decisions D1–D6, D9,
D12, D14, D15).

Reads come from memory: the last answer, kept on disk beside the identity and shared by the
app's processes, with overrides on top. At most once a second a read looks at what changed
(the identity, another process's answer, the session); when the flags on hand are missing, for
another identity or older than the refresh interval, a background load is asked for and the
read still answers at once. A failed automatic load is retried after a minute at the earliest.
Once flags are loaded, every event of the install carries ``$feature/<key>`` and
``$active_feature_flags`` (encoded once per change, so ``capture()`` costs nothing more).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from .._events.runtime import system_context
from .._exceptions import TransportError
from .._identity.properties import EventProperties
from .._identity.session import SessionTracker
from .._identity.state import IdentityState, StateStore
from .._log import logger
from .cache import CachedFlags, FlagFile, FlagStore
from .loader import Loader
from .overrides import FlagOverrides
from .reporting import FLAG_CALLED, answer_errors, event_flag_properties, flag_called_properties
from .reporting import value_text as _text
from .transport import FlagsTransport, error_code
from .values import FlagInfo, decode_payload, merge, read_flags_response

__all__ = ["AppFlags", "FlagsCallback"]

FlagsCallback = Callable[[dict[str, "bool | str"], bool], None]
_RECHECK_S: Final = 1.0  # how late a read notices another process's changes
_RETRY_AFTER_FAILURE_S: Final = 60.0


class AppFlags:
    """Flags of the persisted identity; created by the client at the first flag use."""

    def __init__(
        self,
        *,
        identity: StateStore,
        sessions: SessionTracker,
        properties: EventProperties,
        send: Callable[[str, dict[str, Any]], object],
        opted_out: Callable[[], bool],
        transport: FlagsTransport,
        store: FlagStore,
        overrides: FlagOverrides,
        refresh_interval_s: float,
        geoip_disable: bool,
    ) -> None:
        self._identity, self._sessions, self._properties = identity, sessions, properties
        self._send, self._opted_out = send, opted_out
        self._transport, self._store = transport, store
        self._overrides = overrides
        self._refresh_ms = int(refresh_interval_s * 1000)
        self._geoip_disable = geoip_disable
        self._values: dict[str, bool | str] = {}
        self._cached: CachedFlags | None = None
        self._check_at = 0.0
        self._seen: tuple[IdentityState, FlagFile] | None = None
        self._wanted: tuple[str, dict[str, Any]] = ("", {})
        self._scope = ("", "")
        self._reported: set[tuple[str, str]] = set()
        self._answered = ""  # the key this process last got a server answer for
        self._failure: tuple[str, float, str] | None = None  # key, retry at, error code
        self._generation = 0
        self._callbacks: list[FlagsCallback] = []
        self._lock = threading.Lock()
        self._loader = Loader(self._load)
        self._apply(store.current().cached, notify=False)

    # -- reads ---------------------------------------------------------------------------------

    def value(self, key: str) -> bool | str | None:
        """The flag's value now (None: unknown); the hot path of ``feature_enabled``."""
        if time.monotonic() >= self._check_at:
            self._check()
        return self._values.get(key)

    def values(self) -> dict[str, bool | str]:
        if time.monotonic() >= self._check_at:
            self._check()
        return dict(self._values)

    def payload(self, key: str) -> Any:
        value = self.value(key)
        if key in self._overrides.payloads:
            return self._overrides.payloads[key]
        info = self._info(key)
        return decode_payload(info.payload) if value and info is not None else None

    def report(self, key: str, value: bool | str | None) -> None:
        """``$feature_flag_called`` once per flag, value, user and session across processes."""
        pair = (key, _text(value))
        if pair in self._reported:
            return
        self._reported.add(pair)
        try:
            first = self._store.claim_call(self._scope, pair)
        except OSError as exc:  # the lock stayed busy: better a duplicate than a lost read
            logger.debug("flag call record unavailable: %s", exc)
            first = True
        if not first:
            return
        cached = self._cached
        answer = cached.flags if cached is not None else None
        errors = answer_errors(answer, key) if answer is not None else ["flag_missing"]
        if self._failure is not None:
            errors.insert(0, self._failure[2])
        real = answer.flags.get(key) if answer is not None else None
        overridden: dict[str, Any] = {}
        if key in self._overrides.values:
            overridden["original"] = real.value if real is not None else None
        props = flag_called_properties(key, value, real, answer, errors=errors, **overridden)
        self._send(FLAG_CALLED, props)

    # -- loads ---------------------------------------------------------------------------------

    def reload(self) -> int:
        """Ask for a background load now; returns the ticket ``wait`` takes."""
        self._check_at = 0.0
        return self._loader.request()

    def wait(self, timeout_s: float | None) -> bool:
        """Wait for a load under way, or for flags of the current identity from the server if
        this process has none yet; whether it has them within ``timeout_s``."""
        self._check()
        ticket = self._loader.pending()
        if ticket is None:
            if self._answered == self._wanted[0]:
                return True
            ticket = self._loader.request()
        self._loader.wait(ticket, timeout_s)
        return self._answered == self._wanted[0]

    def _check(self) -> None:
        self._check_at = time.monotonic() + _RECHECK_S
        self._identity.refresh()
        if self._store.refresh():
            self._apply(self._store.current().cached, notify=True)
        state, file = self._identity.current(), self._store.current()
        if self._seen is None or self._seen[0] is not state or self._seen[1] is not file:
            self._seen = (state, file)
            self._wanted = _request(self._transport.api_key, state, file, self._geoip_disable)
        now_ms = int(time.time() * 1000)
        scope = (state.distinct_id, self._sessions.session_id(now_ms, active=False))
        if scope != self._scope:
            self._scope, self._reported = scope, set()
        cached, key = self._cached, self._wanted[0]
        stale = (
            cached is None
            or cached.key != key
            or (self._refresh_ms > 0 and now_ms - cached.fetched_at_ms > self._refresh_ms)
        )
        failure = self._failure
        waiting = failure is not None and failure[0] == key and time.monotonic() < failure[1]
        if stale and not waiting and self._loader.pending() is None and not self._opted_out():
            self._loader.request()

    def _load(self) -> None:
        """One request for the current identity (on the loader thread)."""
        if self._opted_out():
            return  # an opted-out user's ids never leave the machine, not even for flags
        generation = self._generation
        self._identity.refresh()
        self._store.refresh()
        key, body = _request(
            self._transport.api_key,
            self._identity.current(),
            self._store.current(),
            self._geoip_disable,
        )
        try:
            answer = read_flags_response(self._transport.flags(body))
        except (TransportError, ValueError) as exc:
            code = error_code(exc)
            logger.info("feature flags not loaded (%s): keeping the last known values", code)
            self._failure = (key, time.monotonic() + _RETRY_AFTER_FAILURE_S, code)
            self._notify(errors_loading=True)
            return
        now_ms = int(time.time() * 1000)

        def store(file: FlagFile) -> FlagFile:
            previous = file.cached.flags if file.cached is not None else None
            return file._replace(cached=CachedFlags(merge(previous, answer), key, now_ms))

        with self._lock:
            if generation != self._generation:
                return  # reset() meanwhile: the answer was for the previous user
            cached = self._store.update(store).cached
            self._answered, self._failure = key, None
        self._apply(cached, notify=not answer.quota_limited)

    # -- what changes the flags ------------------------------------------------------------------

    def forget(self) -> None:
        """``reset()``: drop every flag of the previous user, then load the new user's."""
        with self._lock:
            self._generation += 1
            self._store.clear()
            self._answered, self._failure = "", None
        self._apply(None, notify=False)
        self.reload()

    def set_overrides(self, overrides: FlagOverrides) -> None:
        self._overrides = overrides
        self._apply(self._cached, notify=True)

    def subscribe(self, callback: FlagsCallback) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)
        if self._cached is not None or self._overrides:
            self._call(callback, dict(self._values), False)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._loader.after_fork()

    def close(self, wait_s: float) -> None:
        """At shutdown: a load under way may finish within ``wait_s``, for the next run."""
        self._loader.close(wait_s)

    def _apply(self, cached: CachedFlags | None, *, notify: bool) -> None:
        self._cached = cached
        values = {k: info.value for k, info in (cached.flags.flags if cached else {}).items()}
        values.update(self._overrides.values)
        self._values = values
        self._properties.set_flag_properties(event_flag_properties(values) if values else None)
        if notify:
            self._notify(errors_loading=False)

    def _notify(self, *, errors_loading: bool) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            self._call(callback, dict(self._values), errors_loading)

    @staticmethod
    def _call(callback: FlagsCallback, values: dict[str, bool | str], errors: bool) -> None:
        try:
            callback(values, errors)
        except Exception:
            logger.exception("posthog_client: an on_feature_flags callback raised")

    def _info(self, key: str) -> FlagInfo | None:
        cached = self._cached
        return cached.flags.flags.get(key) if cached is not None else None


def _request(
    api_key: str, state: IdentityState, file: FlagFile, geoip_disable: bool
) -> tuple[str, dict[str, Any]]:
    """The ``/flags`` body for the identity (C2, D6, D7, D9), and the key of whom it asks for."""
    groups = state.super_properties.get("$groups")
    groups = dict(groups) if isinstance(groups, Mapping) else {}
    person = {**system_context(), **file.inputs.person_properties}
    group_properties = {k: dict(v) for k, v in file.inputs.group_properties.items()}
    whom = [state.distinct_id, groups, person, group_properties]
    key = hashlib.sha1(json.dumps(whom, sort_keys=True, default=str).encode()).hexdigest()
    body = {
        "token": api_key,
        "distinct_id": state.distinct_id,
        "$anon_distinct_id": state.anon_id,
        "$device_id": state.device_id,
        "groups": groups,
        "person_properties": person,
        "group_properties": group_properties,
        "geoip_disable": geoip_disable,
        "evaluation_runtime": "client",
    }
    return key, body
