"""``LocalServer``: the reference server in a background thread, for tests, examples and the CLI."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Final, Literal, TypeAlias, get_args
from urllib.parse import urlencode

from .._log import logger
from ._access import AccessPolicy, is_loopback, new_personal_api_key
from ._engine import PersonEngine
from ._flag_source import FlagSource, FlagsSpec
from ._http import IngestionHTTPServer
from ._routes import build_mixpanel_router, build_router
from .mixpanel import DEFAULT_TOKEN, IdMerge, MixpanelEngine, ServiceAccount

__all__ = ["DEFAULT_API_KEY", "IDENTITY_MODES", "Identity", "LocalServer"]

DEFAULT_API_KEY: Final = "phc_local"
"""The project key a ``LocalServer`` accepts unless told otherwise (``mp_local_token`` in a
Mixpanel mode)."""

Identity: TypeAlias = Literal[
    "posthog", "mixpanel-legacy", "mixpanel-original", "mixpanel-simplified"
]
"""How the server resolves identities: PostHog's person merges, or Mixpanel's ingestion API
under one of its ID-merge models (no ID merge, Original, Simplified)."""
IDENTITY_MODES: Final[tuple[Identity, ...]] = get_args(Identity)
_MIXPANEL_MODELS: Final[dict[str, IdMerge]] = {
    "mixpanel-legacy": "legacy",
    "mixpanel-original": "original",
    "mixpanel-simplified": "simplified",
}

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

    ``identity="mixpanel-simplified"`` (or ``-original``, ``-legacy``) makes it Mixpanel's
    ingestion API instead (``/track``, ``/import``, ``/engage``, ``/groups``) for the project
    token ``api_key`` (default ``mp_local_token``), resolving users under that ID-merge model,
    with the query API in Mixpanel's terms; ``mixpanel`` is the ``MixpanelEngine`` behind it.
    ``service_account`` is accepted on ``/import`` (``$merge`` needs it).

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
        api_key: str | None = None,
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
        identity: Identity = "posthog",
        service_account: ServiceAccount | None = None,
    ) -> None:
        if identity not in IDENTITY_MODES:
            raise ValueError(f"identity must be one of {', '.join(IDENTITY_MODES)}: {identity!r}")
        if api_key is None:
            api_key = DEFAULT_API_KEY if identity == "posthog" else DEFAULT_TOKEN
        if not api_key:
            raise ValueError("api_key must be a non-empty project key")
        if personal_api_key is not None and not personal_api_key.strip():
            raise ValueError("personal_api_key must be None or a non-empty key")
        self.api_key = api_key
        self.identity = identity
        self.host = host
        self.personal_api_key = personal_api_key or (
            None if is_loopback(host) else new_personal_api_key()
        )
        """The key the query API and the explorer need, or None when they need none."""
        self._allowed_hosts = tuple(allowed_hosts)
        self.db_path: str | os.PathLike[str] = ":memory:" if db_path is None else db_path
        self.flags = FlagSource(flags)
        """The flags it serves (``quota_limited`` answers as a billing-limited project)."""
        self._engine: PersonEngine | None = None
        self._mixpanel: MixpanelEngine | None = None
        if identity != "posthog":
            model = _MIXPANEL_MODELS[identity]
            self._mixpanel = MixpanelEngine(
                self.db_path, model=model, token=api_key, service_account=service_account
            )
        else:
            self._engine = PersonEngine(self.db_path, shuffle=shuffle, seed=seed)
        self._port = port
        self._log_requests = log_requests
        self._httpd: IngestionHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    @property
    def engine(self) -> PersonEngine:
        """The ``PersonEngine`` behind the server (PostHog mode)."""
        if self._engine is None:
            raise RuntimeError(f"this server resolves identities as {self.identity}: use .mixpanel")
        return self._engine

    @property
    def mixpanel(self) -> MixpanelEngine:
        """The ``MixpanelEngine`` behind the server (a Mixpanel mode)."""
        if self._mixpanel is None:
            raise RuntimeError("this server resolves identities as PostHog does: use .engine")
        return self._mixpanel

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
            router = (
                build_router(self._engine, self.api_key, self.flags, self.personal_api_key)
                if self._engine is not None
                else build_mixpanel_router(self.mixpanel)
            )
            self._httpd = IngestionHTTPServer(
                (self.host, self._port),
                router,
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
            for engine in (self._engine, self._mixpanel):
                if engine is not None:
                    engine.close()
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
