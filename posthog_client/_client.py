"""``Client``: builds events with the right identity and hands them to the delivery pipeline."""

from __future__ import annotations

import atexit
import functools
import os
import sys
import threading
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from . import _sanitize
from ._client_identity import IdentityMethods
from ._config import Options, env_opt_out_reason
from ._context import current_context
from ._delivery import Delivery, FlushResult
from ._encoding import encode_event
from ._event_properties import EventProperties
from ._events import now_timestamp
from ._exceptions import InvalidEventError, PostHogError
from ._fork_safety import lazy_imports
from ._guard import never_raises
from ._log import clip_repr, enable_debug_logging, logger, warn_once
from ._queue import MAX_EVENT_BYTES
from ._session import SessionTracker
from ._state import StateStore
from ._uuid7 import uuid7
from ._validation import IdChecker

if TYPE_CHECKING:
    import datetime as dt
    from uuid import UUID

__all__ = ["Client"]

_SHARED_FILES_RECHECK_MS: Final = 1000  # how late another process's identify/opt-out may apply


class Client(IdentityMethods):
    """A PostHog client with a persisted, client-side identity.

    Options (keyword arguments; each falls back to its ``POSTHOG_*`` variable where one exists):
    ``mode`` (``"desktop"``, the default, or ``"server"``: ``persist=False, disable_geoip=True``),
    ``host`` (``POSTHOG_HOST``), ``backend`` (an object with ``send``/``close``, instead of HTTP),
    ``persist`` (keep identity and queue on disk, default True), ``storage_dir``
    (``POSTHOG_CLIENT_DIR``), ``strict`` (raise on bad input instead of logging),
    ``person_profiles`` (``"identified_only"``, ``"always"``, ``"never"``), ``disabled``,
    ``debug``, ``sync_mode``, ``gzip``, ``disable_geoip``, ``flush_at``, ``flush_interval_s``,
    ``max_batch_size``, ``max_queue_size``, ``max_disk_bytes``, ``max_retries``, ``timeout_s``,
    ``shutdown_timeout_s``, ``session_idle_timeout_s``, ``super_properties``.
    ``POSTHOG_CLIENT_STRICT`` sets ``strict``; ``POSTHOG_CLIENT_BACKEND=memory`` records events
    in memory (see ``posthog_client.testing``).

    Example::

        with Client("phc_...", host="https://eu.i.posthog.com") as posthog:
            posthog.capture("file_opened", {"size_kb": 12})
            posthog.identify("user_42", {"email": "a@b.c"})
    """

    def __init__(self, api_key: str | None = None, **options: Any) -> None:
        self.options = Options.resolve(api_key, **options)
        if self.options.debug:
            enable_debug_logging()
        self._opt_out_env = env_opt_out_reason() or ("disabled" if self.options.disabled else None)
        persisted = self.options.persist and self._opt_out_env is None
        self._store = StateStore(self.options.project_dir if persisted else None)
        self._ids = IdChecker(self.options.strict)
        self._opted_out = self._opt_out_env is not None
        self._next_check_ms = 0  # when files other processes may change are read again
        self._delivery: Delivery | None = None
        self._stopped: Delivery | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        self._refused: dict[str, int] = {}
        self._atexit_hook = functools.partial(_shutdown_at_exit, weakref.ref(self))
        self._sessions = SessionTracker(self._store, self.options.session_idle_timeout_s)
        self._properties = EventProperties(self.options, self._store, self._sessions)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=functools.partial(_after_fork, weakref.ref(self)))
        attach = getattr(self.options.backend, "attach", None)
        if callable(attach):  # a recording backend flushes its clients before it is read
            attach(self)

    # -- events ------------------------------------------------------------------------------

    def capture(
        self,
        event: str,
        properties: Mapping[str, Any] | None = None,
        *,
        distinct_id: str | None = None,
        timestamp: dt.datetime | str | float | None = None,
        uuid: str | UUID | None = None,
    ) -> str | None:
        """Queue an event; returns its uuid, or None if it was not queued (the reason is logged).

        The distinct id is ``distinct_id`` when given, else the current context's (see
        ``new_context``), else the persisted identity's.
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
            stamp = _sanitize.event_timestamp(timestamp, event, strict=self.options.strict) or stamp
        if properties is not None and type(properties) is not dict:
            properties = _sanitize.event_properties(properties, event, strict=self.options.strict)
        context = current_context()
        shared: tuple[Mapping[str, Any], str] | None = None
        if context is None:
            distinct_id, props, shared = self._properties.for_device(
                properties, explicit_id, now_ms
            )
        else:
            distinct_id, props = self._properties.for_context(context, properties, explicit_id)
        uuid = (
            _sanitize.event_uuid(event_uuid, event, strict=self.options.strict)
            if event_uuid is not None
            else None
        ) or uuid7()
        message = {
            "event": event,
            "distinct_id": wire_id or distinct_id,
            "properties": props,
            "timestamp": stamp,
            "uuid": uuid,
        }
        line = encode_event(message, strict=self.options.strict, shared_properties=shared)
        if len(line) > MAX_EVENT_BYTES:
            self._refuse(
                "oversize", f"event {clip_repr(event)} is {len(line)} bytes, over {MAX_EVENT_BYTES}"
            )
            return None
        return uuid if (self._delivery or self._get_delivery()).submit(line) else None

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
        from ._exception_event import exception_properties

        props = exception_properties(exc, handled=True)
        return self.capture("$exception", {**props, **(properties or {})}, distinct_id=distinct_id)

    def _refuse(self, reason: str, message: str) -> None:
        """Count and log an event that will not be sent (strict mode raises instead)."""
        self._refused[reason] = self._refused.get(reason, 0) + 1
        if self.options.strict:
            raise InvalidEventError(message)
        logger.warning("event refused: %s", message)

    def _session_id(self, now_ms: int, *, active: bool) -> str:
        return self._sessions.session_id(now_ms, active=active)

    def _forget_session_activity(self) -> None:
        self._sessions.forget()

    # -- identity ------------------------------------------------------------------------------

    def _emit(self, events: list[tuple[str, dict[str, Any]]], warning: str | None = None) -> None:
        """Send the events an identity operation produced, under the identity it produced."""
        if warning:
            logger.warning("%s", warning)
        for name, props in events:  # $identify's root id is the new id (W5)
            self._send(name, props, None, None, None, props.get("distinct_id"))

    # -- lifecycle -----------------------------------------------------------------------------

    def _get_delivery(self) -> Delivery:
        delivery = self._delivery
        if delivery is None:
            self._check_fork()
            with self._lock:
                if self._delivery is None:
                    with lazy_imports():  # deferred: not needed to import; a fork waits for it
                        from ._pipeline import build_delivery

                    self._delivery = build_delivery(self.options)
                    atexit.register(self._atexit_hook)
                delivery = self._delivery
        return delivery

    def _reread_shared_files(self, now_ms: int) -> None:
        """Pick up what other processes of the app changed: identity and consent (≤ 1 s late)."""
        self._next_check_ms = now_ms + _SHARED_FILES_RECHECK_MS
        self._store.refresh()
        self.has_opted_out()

    def has_opted_out(self) -> bool:
        """True when nothing is sent: ``DO_NOT_TRACK``/``POSTHOG_CLIENT_DISABLED``, ``disabled``
        or ``opt_out()`` (by this process or another one of the app)."""
        if self._opt_out_env is None:
            self._opted_out = bool(self._store.opted_out())
        return self._opted_out

    @never_raises(None)
    def opt_out(self) -> None:
        """Stop sending at once, delete the unsent queue, and remember the choice (A19)."""
        self._opted_out = True
        self._store.set_opted_out(True)
        if self._opt_out_env is None:
            purged = self._get_delivery().purge()
            logger.info("opted out; %d unsent events deleted", purged)

    @never_raises(None)
    def opt_in(self) -> None:
        """Resume sending and remember the choice; an opt-out by environment still wins."""
        if self._opt_out_env is not None:
            logger.warning("opt_in() ignored: %s opts this process out", self._opt_out_env)
            return
        self._opted_out = False
        self._store.set_opted_out(False)

    @never_raises(FlushResult())
    def flush(self, timeout_s: float | None = None) -> FlushResult:
        """Deliver what is queued, earlier runs' events included, waiting at most ``timeout_s``;
        returns sent/pending/dropped."""
        delivery = self._delivery
        if delivery is None and self.options.persist and not self._closed:
            if self.has_opted_out():
                return FlushResult()
            delivery = self._get_delivery()  # what earlier runs left on disk goes too
        return FlushResult() if delivery is None else delivery.flush(timeout_s)

    @never_raises(FlushResult())
    def shutdown(self, timeout_s: float | None = None) -> FlushResult:
        """Flush within ``timeout_s`` (default ``shutdown_timeout_s``) and stop; idempotent.

        Unsent events stay on disk (persisted mode) for the next process to deliver.
        """
        self._check_fork()
        with self._lock:
            delivery, self._delivery = self._delivery, None
            self._closed = True
            self._stopped = delivery  # stats() keeps its final counters
        atexit.unregister(self._atexit_hook)
        if delivery is None:
            return FlushResult()
        return delivery.shutdown(
            self.options.shutdown_timeout_s if timeout_s is None else timeout_s
        )

    def stats(self) -> dict[str, int]:
        """Counters of sent, retried, pending and dropped events (``dropped_<reason>``)."""
        delivery = self._delivery or self._stopped
        counters = dict(delivery.stats()) if delivery is not None else {}
        for reason, count in self._refused.items():
            counters[f"dropped_{reason}"] = counters.get(f"dropped_{reason}", 0) + count
        return counters

    def _check_fork(self) -> None:
        if self._pid != os.getpid():  # forked without Python's hooks (uwsgi, C extensions)
            self._after_fork()

    def _after_fork(self) -> None:
        # The child starts with fresh locks and no claim on the parent's pipeline.
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._store.after_fork()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


def _shutdown_at_exit(ref: weakref.ref[Client]) -> None:
    client = ref()
    if client is not None:
        client.shutdown()


def _after_fork(ref: weakref.ref[Client]) -> None:
    client = ref()
    if client is not None:
        client._after_fork()
