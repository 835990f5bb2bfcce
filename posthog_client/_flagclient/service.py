"""The flag machinery of one client, built at its first flag use (no thread, file or import of
the HTTP stack before)."""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .._config import Options
from .._fork_safety import lazy_imports, reinit_after_fork
from .._identity.properties import EventProperties
from .._identity.session import SessionTracker
from .._identity.state import StateStore
from .app import AppFlags
from .cache import FlagStore
from .overrides import FlagOverrides, from_environment
from .remote import RemoteFlags
from .transport import FlagsTransport

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["EXIT_WAIT_S", "FlagService"]

# A flag load under way at exit may finish within this, so the next run starts with the flags
# (a short CLI often exits right after its first flag read).
EXIT_WAIT_S: Final = 0.25


class FlagService:
    """Transport, overrides, the install's flags (desktop) and any user's flags (backends)."""

    def __init__(
        self,
        options: Options,
        *,
        identity: StateStore,
        sessions: SessionTracker,
        properties: EventProperties,
        send: Callable[[str, dict[str, Any], str | None], object],
        opted_out: Callable[[], bool],
        directory: Path | None,
        geoip_disable: bool,
    ) -> None:
        self.options = options
        self.geoip_disable = geoip_disable
        self.transport = FlagsTransport(
            options.api_key,
            options.host,
            timeout_s=options.flags_timeout_s,
            secret_key=options.secret_key,
            backend=options.backend,
        )
        self.overrides = from_environment() if options.read_env else FlagOverrides()
        self._identity, self._sessions, self._properties = identity, sessions, properties
        self._send, self._opted_out = send, opted_out
        self._directory = directory
        self._lock = threading.Lock()
        self._store: FlagStore | None = None
        self.app: AppFlags | None = None
        self._remote: RemoteFlags | None = None
        reinit_after_fork(functools.partial(_after_fork, weakref.ref(self)))

    def app_flags(self) -> AppFlags:
        """The install's flags, created (and loaded if stale) at the first use."""
        app = self.app
        if app is None:
            with self._lock:
                if self.app is None:
                    self.app = AppFlags(
                        identity=self._identity,
                        sessions=self._sessions,
                        properties=self._properties,
                        send=lambda event, props: self._send(event, props, None),
                        opted_out=self._opted_out,
                        transport=self.transport,
                        store=self._files(),
                        overrides=self.overrides,
                        refresh_interval_s=self.options.flags_refresh_interval_s,
                        geoip_disable=self.geoip_disable,
                    )
                app = self.app
        return app

    def remote(self) -> RemoteFlags:
        remote = self._remote
        if remote is None:
            with self._lock:
                if self._remote is None:
                    local = None
                    if self.transport.local_evaluation_possible:
                        with lazy_imports():  # the engine: only with a secret key
                            from .local import LocalEvaluator

                        local = LocalEvaluator(self.transport, self.options.flags_poll_interval_s)
                    runtime = "server" if self.options.mode == "server" else "client"
                    self._remote = RemoteFlags(
                        self.transport, runtime=runtime, local=local, send=self._send
                    )
                remote = self._remote
        return remote

    def files(self) -> FlagStore | None:
        """The install's flag files when this process uses flags or an earlier run left them
        (so ``reset()`` and properties for flags reach them); else None, and nothing is read."""
        if self.app is not None or self._store is not None:
            return self._files()
        directory = self._directory
        if directory is None or not (directory / "flags.json").exists():
            return None
        return self._files()

    def reload_definitions(self) -> bool:
        """Poll the definitions of local evaluation now; whether any are loaded."""
        local = self.remote().local
        return local is not None and local.reload()

    def set_overrides(self, overrides: FlagOverrides) -> None:
        self.overrides = overrides
        if self.app is not None:
            self.app.set_overrides(overrides)

    def close(self) -> None:
        if self.app is not None:
            self.app.close(min(self.options.shutdown_timeout_s, EXIT_WAIT_S))
        if self._remote is not None:
            self._remote.close()
        self.transport.close()

    def after_fork(self) -> None:
        """In a forked child: fresh locks everywhere, no thread of the parent's awaited."""
        self._lock = threading.Lock()
        for part in (self.app, self._remote, self._store):
            if part is not None:
                part.after_fork()

    def _files(self) -> FlagStore:
        if self._store is None:
            self._store = FlagStore(self._directory)
        return self._store


def _after_fork(ref: weakref.ref[FlagService]) -> None:
    service = ref()
    if service is not None:
        service.after_fork()
