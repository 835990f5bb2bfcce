"""``LocalServer``: the reference server in a background thread, for tests, examples and the CLI."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlencode

from .._log import logger
from ._access import AccessPolicy, is_loopback, new_personal_api_key
from ._engine import PersonEngine
from ._flag_source import FlagSource, FlagsSpec
from ._http import IngestionHTTPServer
from ._routes import build_router

__all__ = ["DEFAULT_API_KEY", "LocalServer"]

DEFAULT_API_KEY: Final = "phc_local"
"""The project key a ``LocalServer`` accepts unless told otherwise."""

_POLL_INTERVAL_S: Final = 0.05  # how fast the serving loop notices stop()


class LocalServer:
    """PostHog's ingestion API and person rules on SQLite, served from a background thread.

    It accepts ``/batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/``, ``/track/`` and capture v1
    (``/i/v1/analytics/events``) for the project key ``api_key``, answers the query API
    (``/api/persons``, ``/api/events``, ``/api/ingestion_warnings``) and serves the person
    explorer at ``/`` (``explorer_url``). ``flags`` (a ``flags.json`` path, a definitions
    document or ``{key: value}``; changed later with ``set_flags``) are answered at ``/flags``
    and ``/flags/definitions``.
    ``port=0`` picks a free port; ``db_path=None`` keeps the data in memory. ``engine`` is the
    ``PersonEngine`` behind it, for direct queries.

    The query API and the explorer answer only ``Host`` headers naming this server (plus
    ``allowed_hosts``; ``"*"`` allows any). They need ``personal_api_key`` when one is given,
    and a random one is made when ``host`` is not a loopback address: reading persons from
    another machine takes the key.

    >>> with LocalServer() as server:
    ...     url = server.url           # e.g. "http://127.0.0.1:53127"
    ...     person = server.engine.person("some-distinct-id")
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        db_path: str | os.PathLike[str] | None = None,
        shuffle: bool = False,
        seed: int | None = None,
        log_requests: bool = False,
        personal_api_key: str | None = None,
        allowed_hosts: Iterable[str] = (),
        flags: FlagsSpec = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must be a non-empty project key")
        if personal_api_key is not None and not personal_api_key.strip():
            raise ValueError("personal_api_key must be None or a non-empty key")
        self.api_key = api_key
        self.host = host
        self.personal_api_key = personal_api_key or (
            None if is_loopback(host) else new_personal_api_key()
        )
        """The key the query API and the explorer need, or None when they need none."""
        self._allowed_hosts = tuple(allowed_hosts)
        self.db_path: str | os.PathLike[str] = ":memory:" if db_path is None else db_path
        self.flags = FlagSource(flags)
        """The flags it serves (``quota_limited`` answers as a billing-limited project)."""
        self.engine = PersonEngine(self.db_path, shuffle=shuffle, seed=seed)
        self._port = port
        self._log_requests = log_requests
        self._httpd: IngestionHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        """The port it listens on (the one picked for ``port=0`` once started)."""
        return self._httpd.server_address[1] if self._httpd is not None else self._port

    @property
    def url(self) -> str:
        """Its base URL, e.g. ``http://127.0.0.1:8010``: the ``host`` to give an SDK."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def explorer_url(self) -> str:
        """The person explorer's address, with the key when one is needed."""
        key = self.personal_api_key
        return f"{self.url}/" + ("" if key is None else f"?{urlencode({'key': key})}")

    def start(self) -> LocalServer:
        """Bind and start serving in a daemon thread; returns the server itself."""
        with self._lock:
            if self._stopped.is_set():
                raise RuntimeError("a stopped LocalServer cannot be started again")
            if self._httpd is not None:
                return self
            access = AccessPolicy(self.host, self.personal_api_key, self._allowed_hosts)
            self._httpd = IngestionHTTPServer(
                (self.host, self._port),
                build_router(self.engine, self.api_key, self.flags, self.personal_api_key),
                access,
                log_requests=self._log_requests,
            )
            if self.personal_api_key is not None:
                logger.info("local server: the query API and the explorer need the personal key")
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": _POLL_INTERVAL_S},
                name="posthog_client.LocalServer",
                daemon=True,
            )
            self._thread.start()
        return self

    def set_flags(self, flags: FlagsSpec, *, payloads: Mapping[str, Any] | None = None) -> None:
        """Serve other flags from the next request on (``payloads`` go with plain values)."""
        self.flags.set(flags, payloads)

    def stop(self) -> None:
        """Stop serving, close every connection and the database; idempotent."""
        with self._lock:
            if self._stopped.is_set():
                return
            httpd, thread = self._httpd, self._thread
            if httpd is not None and thread is not None:
                httpd.shutdown()
                httpd.close_connections()
                httpd.server_close()  # joins the handler threads
                thread.join()
            self.engine.close()
            self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``stop()`` (True) or ``timeout`` seconds (False); Ctrl-C interrupts it."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
