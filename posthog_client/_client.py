"""``Client``: builds events with the right identity and hands them to the delivery pipeline."""

from __future__ import annotations

import functools
import os
import sys
import threading
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from ._config import (
    DEFAULT_FLAGS_POLL_INTERVAL_S,
    DEFAULT_FLAGS_REFRESH_INTERVAL_S,
    DEFAULT_FLAGS_TIMEOUT_S,
    DEFAULT_FLUSH_AT,
    DEFAULT_FLUSH_INTERVAL_S,
    DEFAULT_MAX_BATCH_SIZE,
    DEFAULT_MAX_DISK_BYTES,
    DEFAULT_MAX_QUEUE_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_SESSION_IDLE_TIMEOUT_S,
    DEFAULT_SHUTDOWN_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    CaptureApi,
    Compression,
    Mode,
    Options,
    env_opt_out_reason,
)
from ._consent import ConsentMethods
from ._delivery.contract import Delivery
from ._delivery.queue import MAX_EVENT_BYTES
from ._events import sanitize
from ._events.encoding import SharedProperties, encode_event
from ._events.timestamps import now_timestamp
from ._events.uuid7 import uuid7
from ._exceptions import InvalidEventError, PostHogError
from ._flagclient.groups import GroupMethods
from ._guard import never_raises
from ._hooks import install_hooks
from ._identity.context import current_context
from ._identity.mixpanel import MixpanelIdentityMethods, identity_factory
from ._identity.properties import EventProperties
from ._identity.session import SessionTracker
from ._identity.state import StateStore
from ._identity.validation import IdChecker
from ._lifecycle import LifecycleMethods
from ._log import clip_repr, enable_debug_logging, logger, warn_once

if TYPE_CHECKING:
    import datetime as dt
    from uuid import UUID

    from . import _types
    from ._delivery.backend import Backend
    from ._delivery.report import ErrorCallback
    from ._types import BeforeSendHook, PersonProfiles

__all__ = ["Client"]

_SHARED_FILES_RECHECK_MS: Final = 1000  # how late another process's identify/opt-out may apply


class Client(GroupMethods, MixpanelIdentityMethods, ConsentMethods, LifecycleMethods):
    """A PostHog client with a persisted, client-side identity.

    Every option is keyword-only. Those whose default is ``None`` fall back to an environment
    variable, else to the default listed:

    - ``host``: PostHog Cloud US/EU, a self-hosted instance or the local server
      (``POSTHOG_HOST``, else ``https://us.i.posthog.com``).
    - ``mode``: ``"desktop"`` (a persisted identity of the install) or ``"server"`` (no
      identity of its own: request contexts or explicit ids; implies ``persist=False,
      disable_geoip=True`` unless given).
    - ``backend``: an object with ``send(batch)``/``close()`` instead of HTTP
      (``POSTHOG_CLIENT_BACKEND=memory`` records in memory, see ``posthog_client.testing``).
    - ``persist``: identity and queue on disk (default True; False in server mode, where
      True keeps only the queue there).
    - ``storage_dir``: where they live (``POSTHOG_CLIENT_DIR``, else the user data dir).
    - ``strict``: raise on bad input instead of logging (``POSTHOG_CLIENT_STRICT``, else False).
    - ``person_profiles``: ``"identified_only"``, ``"always"`` or ``"never"``.
    - ``disabled``: send nothing, write nothing. ``debug``: log to stderr
      (``POSTHOG_CLIENT_DEBUG``). ``sync_mode``: deliver before ``capture()`` returns.
    - ``gzip``: compress requests. ``disable_geoip``: ask PostHog not to geolocate
      (default False; True in server mode).
    - ``flush_at``, ``flush_interval_s``: send when this many events wait / this often.
    - ``max_batch_size``, ``max_queue_size``, ``max_disk_bytes``: bounds of a request, of the
      memory queue and of the disk queue.
    - ``max_retries``, ``timeout_s``: HTTP attempts after the first, socket timeout.
    - ``shutdown_timeout_s``: the most exit spends delivering; ``session_idle_timeout_s``: the
      analytics session's idle timeout.
    - ``super_properties``: properties sent with every event (not persisted).
    - ``read_env``: False reads no ``POSTHOG_*`` variable at all (for an app's own telemetry:
      its user's PostHog settings must not steer it). ``DO_NOT_TRACK`` is always honoured.
    - ``enable_exception_autocapture``: send unhandled exceptions as ``$exception`` (also
      ``KeyboardInterrupt``/``SystemExit`` with ``exception_autocapture_exits``);
      ``before_send``: ``f(event) -> event | None`` on every event, to redact or sample.
    - ``on_error``: called on the delivery thread with a ``DeliveryProblem`` (kind, HTTP
      status, events dropped or waiting, message) when events are dropped or sending pauses;
      ``debug=True`` also logs every request (count, bytes, status, latency).
    - ``secret_key`` (``POSTHOG_SECRET_KEY``), ``flags_timeout_s``,
      ``flags_poll_interval_s``, ``flags_refresh_interval_s``: feature flags (see the README).
    - ``capture_api``: PostHog's ingestion API, ``"v0"`` (``POST /batch/``) or ``"v1"``
      (``POST /i/v1/analytics/events``: the server answers per event, and only the events it
      asks to retry are sent again). ``compression``: ``"gzip"`` or, on v1, ``"deflate"``.
    - ``historical_migration``: mark every batch as a backfill of past events.
    - ``mixpanel_token``: send to Mixpanel (``mixpanel_region``'s host, or ``host``) with its
      ID-merge model ``mixpanel_id_merge`` instead of PostHog; README "Sending to Mixpanel".

    A value of the wrong type or out of range raises ``ConfigurationError`` naming the option.

    Example::

        with Client("phc_...", host="https://eu.i.posthog.com") as posthog:
            posthog.capture("file_opened", {"size_kb": 12})
            posthog.identify("user_42", {"email": "a@b.c"})
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        host: str | None = None,
        mode: Mode = "desktop",
        backend: Backend | None = None,
        persist: bool | None = None,
        storage_dir: str | os.PathLike[str] | None = None,
        strict: bool | None = None,
        person_profiles: PersonProfiles = "identified_only",
        disabled: bool = False,
        debug: bool | None = None,
        sync_mode: bool = False,
        gzip: bool = True,
        disable_geoip: bool | None = None,
        flush_at: int = DEFAULT_FLUSH_AT,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
        max_disk_bytes: int = DEFAULT_MAX_DISK_BYTES,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S,
        session_idle_timeout_s: float = DEFAULT_SESSION_IDLE_TIMEOUT_S,
        super_properties: Mapping[str, object] | None = None,
        read_env: bool = True,
        enable_exception_autocapture: bool = False,
        exception_autocapture_exits: bool = False,
        before_send: BeforeSendHook | None = None,
        on_error: ErrorCallback | None = None,
        secret_key: str | None = None,
        flags_timeout_s: float = DEFAULT_FLAGS_TIMEOUT_S,
        flags_poll_interval_s: float = DEFAULT_FLAGS_POLL_INTERVAL_S,
        flags_refresh_interval_s: float = DEFAULT_FLAGS_REFRESH_INTERVAL_S,
        capture_api: CaptureApi = "v0",
        compression: Compression = "gzip",
        historical_migration: bool = False,
        mixpanel_token: str | None = None,
        mixpanel_region: _types.MixpanelRegion = "us",
        mixpanel_id_merge: _types.MixpanelIdMerge = "simplified",
        mixpanel_service_account: _types.MixpanelServiceAccount | None = None,
    ) -> None:
        # The parameters above are the one declaration of the options: pass them all on.
        arguments = {name: value for name, value in locals().items() if name != "self"}
        self.options = Options.resolve(**arguments)
        if self.options.debug:
            enable_debug_logging()
        self._env_opt_out = env_opt_out_reason(None, None if read_env else ("DO_NOT_TRACK",))
        self._opt_out_env = self._env_opt_out or ("disabled" if self.options.disabled else None)
        self._server = self.options.mode == "server"
        self._mixpanel = self.options.mixpanel_id_merge if self.options.mixpanel_token else None
        # A server has no identity file (A23); persist=True only keeps its queue on disk.
        persisted = self.options.persist and self._opt_out_env is None and not self._server
        self._flag_dir = self.options.project_dir if persisted else None
        self._store = StateStore(self._flag_dir, new_id=identity_factory(self.options))
        self._ids = IdChecker(self.options.strict)
        self._opted_out = self._opt_out_env is not None
        self._next_check_ms = 0  # when files other processes may change are read again
        self._delivery: Delivery | None = None
        self._stopped: Delivery | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        self._refused: dict[str, int] = {}
        self._atexit_hook = functools.partial(_call_alive, weakref.ref(self), "shutdown")
        self._sessions = SessionTracker(self._store, self.options.session_idle_timeout_s)
        self._properties = EventProperties(self.options, self._store, self._sessions)
        if hasattr(os, "register_at_fork"):
            after_in_child = functools.partial(_call_alive, weakref.ref(self), "_after_fork")
            os.register_at_fork(after_in_child=after_in_child)
        self._before_send, self._hooks = install_hooks(self, self._refused, self._opt_out_env)
        attach = getattr(self.options.backend, "attach", None)
        if callable(attach):  # a recording backend flushes its clients before it is read, and
            bound = attach(self)  # may record this one through a backend of its own (Mixpanel)
            if bound is not None:
                self.options = self.options._replace(backend=bound)

    # -- events ------------------------------------------------------------------------------

    def capture(
        self,
        event: str,
        properties: Mapping[str, Any] | None = None,
        *,
        distinct_id: str | None = None,
        timestamp: dt.datetime | str | float | None = None,
        uuid: str | UUID | None = None,
        groups: Mapping[str, str | int] | None = None,
        send_feature_flags: bool = False,
    ) -> str | None:
        """Queue an event; returns its uuid, or None if it was not queued (the reason is logged).

        The distinct id is ``distinct_id`` when given, else the current context's (see
        ``new_context``), else the persisted identity's; a server-mode client outside a context
        sends a personless event under a fresh id. ``groups`` and ``send_feature_flags``
        add groups and the user's flags (``$feature/<key>``, evaluated now) to this event.
        """
        try:  # inline rather than @never_raises: this is the hottest path of the SDK
            # No pid check here: the pipeline's submit() makes the one this path needs (a fork
            # without Python's hooks), and the client's own locks are checked where they are used.
            if not isinstance(event, str) or not event or event.isspace():
                self._refuse(
                    "invalid_event", f"event name {clip_repr(event)} is empty or not a string"
                )
                return None
            explicit = None
            if distinct_id is not None:
                explicit = self._ids.for_capture(distinct_id)
                if explicit is None:
                    self._refuse(
                        "invalid_distinct_id", f"event {clip_repr(event)} has no distinct id"
                    )
                    return None
            if groups is not None or send_feature_flags:
                properties = self._event_extras(properties, explicit, groups, send_feature_flags)
            return self._send(event, properties, timestamp, uuid, explicit)
        except PostHogError:
            if self.options.strict:
                raise
            logger.exception("posthog_client: capture failed")
        except Exception:
            logger.exception("posthog_client: internal error in capture")
        return None

    def _send(
        self,
        event: str,
        properties: Mapping[str, Any] | None,
        timestamp: dt.datetime | str | float | None,
        event_uuid: str | UUID | None,
        explicit_id: str | None,
        wire_id: str | None = None,
    ) -> str | None:
        """Build, encode and queue one event; ``wire_id`` overrides only its root distinct id."""
        stamp, now_ms = now_timestamp()
        if now_ms >= self._next_check_ms:
            self._reread_shared_files(now_ms)
        if self._opted_out:
            return None
        if self._closed:
            warn_once("capture-after-shutdown", "capture() after shutdown(): events are dropped")
            return None
        if timestamp is not None:
            stamp = sanitize.event_timestamp(timestamp, event, strict=self.options.strict) or stamp
        if properties is not None and type(properties) is not dict:
            properties = sanitize.event_properties(properties, event, strict=self.options.strict)
        context = current_context()
        shared: SharedProperties | None = None
        if context is None and not self._server:
            distinct_id, props, shared = self._properties.for_device(
                properties, explicit_id, now_ms
            )
        else:  # a server has no identity of its own: outside a context, only what it is given
            distinct_id, props = self._properties.for_context(context, properties, explicit_id)
        uuid = (
            sanitize.event_uuid(event_uuid, event, strict=self.options.strict)
            if event_uuid is not None
            else None
        ) or uuid7(now_ms)
        message = {
            "event": event,
            "distinct_id": wire_id or distinct_id,
            "properties": props,
            "timestamp": stamp,
            "uuid": uuid,
        }
        if self._before_send is not None:
            kept = self._before_send(message, shared)
            if kept is None:
                return None
            message, shared, uuid = kept, None, kept["uuid"]
        # Shared properties go beside the event's own: the queue splices them in when it is read
        line = encode_event(message, strict=self.options.strict)
        size = len(line) if shared is None else len(line) + len(shared.members) + 1
        if size > MAX_EVENT_BYTES:
            self._refuse(
                "oversize", f"event {clip_repr(event)} is {size} bytes, over {MAX_EVENT_BYTES}"
            )
            return None
        return uuid if (self._delivery or self._get_delivery()).submit(line, shared) else None

    @never_raises(None)
    def capture_exception(
        self,
        exception: BaseException | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        distinct_id: str | None = None,
    ) -> str | None:
        """Capture ``exception`` (default: the one being handled) as a ``$exception`` event."""
        exc = exception if exception is not None else sys.exc_info()[1]
        if exc is None:
            logger.warning("capture_exception() called with no exception")
            return None
        from ._events.exception import exception_properties

        props = exception_properties(exc, handled=True)
        return self.capture("$exception", {**props, **(properties or {})}, distinct_id=distinct_id)

    def _refuse(self, reason: str, message: str) -> None:
        """Count and log an event that will not be sent (strict mode raises instead)."""
        self._refused[reason] = self._refused.get(reason, 0) + 1
        if self.options.strict:
            raise InvalidEventError(message)
        logger.warning("event refused: %s", message)

    # -- lifecycle -----------------------------------------------------------------------------

    def _reread_shared_files(self, now_ms: int) -> None:
        """Pick up what other processes of the app changed: identity and consent (≤ 1 s late)."""
        self._next_check_ms = now_ms + _SHARED_FILES_RECHECK_MS
        self._store.refresh()
        self.has_opted_out()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


def _call_alive(ref: weakref.ref[Client], method: str) -> None:
    """Call ``method`` of the client if it still exists (at exit, after a fork)."""
    client = ref()
    if client is not None:
        getattr(client, method)()
