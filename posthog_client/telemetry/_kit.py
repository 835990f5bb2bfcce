"""``Telemetry``: usage analytics inside a CLI or desktop app, with the conventions its users
expect from well-known CLIs (see the package docstring)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeAlias, get_args

from .._client import Client
from .._config import DEFAULT_HOST, DEFAULT_SHUTDOWN_TIMEOUT_S, Options, env_opt_out_reason
from .._delivery.contract import FlushResult
from .._guard import never_raises
from .._identity.consent import ConsentStatus, consent_status
from .._identity.state import StateStore
from ._settings import (
    AppFolder,
    check_option,
    ci_variable,
    default_data_dir,
    env_name,
    is_set,
)
from ._terminal import PrintingBackend, can_show_notice, default_notice, say, show_notice

if TYPE_CHECKING:
    from pathlib import Path

    from .._delivery.backend import Backend
    from .._types import BeforeSendHook

__all__ = ["CiPolicy", "Telemetry", "TelemetryStatus"]

CiPolicy: TypeAlias = Literal["off", "shared"]
CI_DISTINCT_ID: Final = "ci"  # every CI run of every user: one person, never one per run


class TelemetryStatus(NamedTuple):
    """What ``Telemetry.status()`` reports: ``consent`` says whether events are sent and exactly
    why not; the ids are those on disk (None before the first event); ``data_dir`` is where the
    choice, the notice record, the id and unsent events live; ``debug`` is whether events are
    printed instead of sent."""

    consent: ConsentStatus
    anonymous_id: str | None
    distinct_id: str | None
    data_dir: Path
    debug: bool

    @property
    def enabled(self) -> bool:
        """On: sending, or about to be once the first-run notice has been shown."""
        return self.consent.sending or self.consent.blocked_by == "notice"


class Telemetry:
    """Usage analytics for the app ``app``, off and on the way its users expect.

    Off switches, strongest first: ``DO_NOT_TRACK``; ``disable_variable`` (default
    ``<APP>_TELEMETRY_DISABLED``); the user's choice (``disable()``/``enable()``, e.g. through
    ``add_telemetry_command``); a CI run (``ci="off"``, the default: not counted; ``"shared"``:
    counted under the one distinct id ``ci``); then ``enabled_by_default``. When off, nothing is
    sent and nothing is written.

    On the first run that would send, ``notice`` (a default text if None) is shown once, on stderr
    or through ``show_notice`` (a GUI's callback), and that run sends nothing, so the user can opt
    out first. A new ``notice_version`` (e.g. a date) shows it again. Without a terminal (stdin or
    stderr not a TTY) and without ``show_notice`` it is not shown and ``enabled_by_default``
    applies. ``debug_variable`` (default ``<APP>_TELEMETRY_DEBUG``) prints events instead.

    Data lives in ``data_dir`` (default: ``<the app's user data dir>/telemetry``); no
    ``POSTHOG_*`` variable is read. Nothing happens until the first ``capture``/``identify``/
    ``start``; exit spends at most ``shutdown_timeout_s`` sending, the rest waits on disk.

    Example::

        telemetry = Telemetry("mytool", api_key="phc_...", notice_version="2026-11-30")
        telemetry.capture("build_finished", {"pages": 12})
    """

    def __init__(
        self,
        app: str,
        *,
        api_key: str,
        host: str = DEFAULT_HOST,
        notice: str | None = None,
        notice_version: str = "1",
        show_notice: Callable[[str], object] | None = None,
        enabled_by_default: bool = True,
        ci: CiPolicy = "off",
        disable_variable: str | None = None,
        debug_variable: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        app_version: str | None = None,
        capture_exceptions: bool = False,
        before_send: BeforeSendHook | None = None,
        shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S,
        backend: Backend | None = None,
    ) -> None:
        check_option("app", app)
        self.app = app
        self.disable_variable = disable_variable or env_name(app, "TELEMETRY_DISABLED")
        self.debug_variable = debug_variable or env_name(app, "TELEMETRY_DEBUG")
        check_option("disable_variable", self.disable_variable)
        check_option("debug_variable", self.debug_variable)
        check_option("ci", ci, ci in get_args(CiPolicy))
        check_option("notice_version", notice_version)
        check_option("show_notice", show_notice, show_notice is None or callable(show_notice))
        check_option("enabled_by_default", enabled_by_default, isinstance(enabled_by_default, bool))
        super_properties: dict[str, object] = {"$app_name": app}
        if app_version is not None:
            super_properties["$app_version"] = app_version
        # Checked now, so a mistake fails at start-up, not on the first event of a user's run.
        self._options = Options.resolve(
            api_key, host=host, read_env=False, shutdown_timeout_s=shutdown_timeout_s,
            enable_exception_autocapture=capture_exceptions, before_send=before_send,
            backend=backend, super_properties=super_properties,
            storage_dir=data_dir,
        )  # fmt: skip
        self._notice = notice
        self._notice_version = notice_version
        self._show_notice = show_notice
        self._enabled_by_default = enabled_by_default
        self._ci_policy = ci
        self._data_dir: Path | None = self._options.storage_dir
        self._lock = threading.Lock()
        self._started = False
        self._client: Client | None = None
        self._ci: str | None = None
        self._notice_run = False  # this run showed the notice: it sends nothing

    @property
    def strict(self) -> bool:  # for ``never_raises``: the kit never raises into the app
        return False

    @property
    def data_dir(self) -> Path:
        """Where the user's choice, the notice record, the id and unsent events live."""
        if self._data_dir is None:
            self._data_dir = default_data_dir(self.app)
        return self._data_dir

    @property
    def client(self) -> Client | None:
        """The client of this run once started and sending, else None."""
        return self._client

    # -- this run ------------------------------------------------------------------------------

    @never_raises(False)
    def start(self) -> bool:
        """Decide, once per process, whether this run sends; show the notice when it is due.

        ``capture`` and ``identify`` call it; call it yourself to capture crashes from the start
        of the run. Returns whether events are sent in this run.
        """
        with self._lock:
            if not self._started:
                self._started = True
                self._client = self._begin()
            return self._client is not None

    def _begin(self) -> Client | None:
        status = self._consent()
        debug = is_set(self.debug_variable)
        if status.blocked_by == "notice" and can_show_notice(self._show_notice):
            show_notice(self.notice_text(), self._show_notice)
            AppFolder(self.data_dir).record_notice(self._notice_version)
            self._say(debug, "nothing is sent in the run that shows the notice")
            self._notice_run = True
            return None
        if not (status.sending or status.blocked_by == "notice"):  # no terminal: the default
            self._say(debug, f"nothing is sent: {status.reason}")
            return None
        return self._new_client(debug)

    def _new_client(self, debug: bool) -> Client:
        options = self._options._replace(
            storage_dir=self.data_dir,
            persist=not (self._ci or debug),  # CI machines are fresh each run: no id to keep
            sync_mode=debug,
            backend=PrintingBackend(self.app) if debug else self._options.backend,
            super_properties={**self._options.super_properties, **self._ci_properties()},
        )
        return Client(**options._asdict())

    def _consent(self) -> ConsentStatus:
        env = env_opt_out_reason(None, ("DO_NOT_TRACK", self.disable_variable))
        if env is not None:
            return consent_status(env, False, None)  # reads nothing from disk
        folder = AppFolder(self.data_dir)
        found = ci_variable()
        self._ci = found if self._ci_policy == "shared" else None
        pending = found is None and folder.notice_version() != self._notice_version
        return consent_status(
            None, False, folder.choice(), ci_variable=None if self._ci else found,
            default=self._enabled_by_default, notice_pending=pending,
        )  # fmt: skip

    def _ci_properties(self) -> dict[str, object]:
        return {"ci": True, "ci_variable": self._ci} if self._ci else {}

    def notice_text(self) -> str:
        """The first-run notice: the app's ``notice``, else a default naming the off switches."""
        return self._notice or default_notice(self.app, self.disable_variable)

    def _say(self, debug: bool, message: str) -> None:
        if debug:
            say(self.app, message)

    # -- events --------------------------------------------------------------------------------

    @never_raises(None)
    def capture(self, event: str, properties: Mapping[str, Any] | None = None) -> str | None:
        """Send ``event`` if telemetry is on in this run; returns its uuid, else None."""
        client = self._running()
        if client is None:
            return None
        return client.capture(event, properties, distinct_id=CI_DISTINCT_ID if self._ci else None)

    @never_raises(False)
    def identify(self, user_id: str, properties: Mapping[str, Any] | None = None) -> bool:
        """On login: this install's anonymous history joins ``user_id`` (see ``Client.identify``).
        Returns False, doing nothing, when nothing is sent in this run (off, or the notice's
        run: call it again on a later run, e.g. at each start while logged in) and in CI, where
        every run shares the ``ci`` id."""
        client = self._running()
        if client is None or self._ci:
            return False
        return client.identify(user_id, properties)

    @never_raises(None)
    def reset(self) -> None:
        """On logout: the next events are anonymous again, under a new id. In the run that shows
        the notice the id is renewed all the same (``reset`` sends nothing); with telemetry off
        the stored id (if any) is deleted. Either way it cannot follow the next user."""
        client = self._running()
        if client is not None and not self._ci:
            client.reset()
        elif self._notice_run:
            with self._new_client(debug=False) as quiet:
                quiet.reset()
        elif client is None and self._data_dir_exists():
            AppFolder(self.data_dir).forget_data()

    @never_raises(FlushResult())
    def shutdown(self, timeout_s: float | None = None) -> FlushResult:
        """Send what is queued within ``timeout_s`` (default ``shutdown_timeout_s``) and stop;
        done at exit anyway. Unsent events wait on disk for the next run."""
        client = self._client
        return client.shutdown(timeout_s) if client is not None else FlushResult()

    # -- the user's choice ---------------------------------------------------------------------

    def status(self) -> TelemetryStatus:
        """Whether telemetry is on and exactly why not, the ids, and where the data lives."""
        consent = self._consent()
        state = None
        if consent.blocked_by != "environment" and self._data_dir_exists():
            project_dir = self._options._replace(storage_dir=self.data_dir).project_dir
            state = StateStore(project_dir).peek()
        anonymous_id = state.anon_id if state else None
        distinct_id = CI_DISTINCT_ID if self._ci else (state.distinct_id if state else None)
        debug = is_set(self.debug_variable)
        return TelemetryStatus(consent, anonymous_id, distinct_id, self.data_dir, debug)

    @never_raises(False)
    def enable(self) -> bool:
        """Turn telemetry on and remember it; returns whether events are now sent.

        Nothing changes while ``DO_NOT_TRACK`` or the app's variable is set (False). Enabling
        counts as having read the notice. In CI (``ci="off"``) the choice is saved but CI runs
        still send nothing.
        """
        if env_opt_out_reason(None, ("DO_NOT_TRACK", self.disable_variable)) is not None:
            return False
        folder = AppFolder(self.data_dir)
        folder.set_choice(False)
        folder.record_notice(self._notice_version)
        with self._lock:
            if self._client is None:
                self._started = False  # decide again on the next event
        return self._consent().sending

    @never_raises(None)
    def disable(self) -> None:
        """Turn telemetry off and remember it (also under ``DO_NOT_TRACK``: the user asked).

        Nothing more is sent, not even an "opted out" event; the unsent events and the stored
        anonymous id are deleted.
        """
        folder = AppFolder(self.data_dir)
        folder.set_choice(True)
        with self._lock:
            client, self._client, self._started = self._client, None, True
        if client is not None:
            client.opt_out()  # stops sending at once and drops the queue
            client.shutdown(0)
        folder.forget_data()

    def _running(self) -> Client | None:
        if not self._started:
            self.start()
        return self._client

    def _data_dir_exists(self) -> bool:
        return os.path.isdir(self.data_dir)
