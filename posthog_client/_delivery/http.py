"""The PostHog HTTP backend: ``POST {host}/batch/`` (capture v0), over one ``requests.Session``.

The body is spliced from the already-encoded events, never decoded and re-encoded. ``requests``
is imported on the first send, off the import path of ``posthog_client`` (~100 ms). Errors map
to the ``TransportError`` tree in one place, ``map_requests_exceptions``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from .._events.timestamps import now_timestamp
from .._exceptions import PayloadTooLargeError, RejectedError, RetryableTransportError
from .._version import __version__

if TYPE_CHECKING:
    import requests

__all__ = ["HttpBackend", "map_requests_exceptions", "parse_retry_after"]

GZIP_MIN_BYTES: Final = 1024  # smaller bodies gain less than gzip's own overhead
GZIP_LEVEL: Final = 1  # 7.6x smaller at under half the CPU of level 6 (8.7x): bench_gzip.py
_RETRYABLE_STATUS: Final = frozenset({408, 429})
_USER_AGENT: Final = f"posthog-client-python/{__version__}"


@contextmanager
def map_requests_exceptions() -> Iterator[None]:
    """Turn whatever ``requests`` (or the socket under it) raises into a ``TransportError``.

    Every failure to get a response is retryable: events must not be dropped for a network
    problem (A10), and a bad URL or proxy setting is fixed by the user while events wait.
    """
    import requests

    try:
        yield
    except requests.RequestException as exc:
        raise RetryableTransportError(f"{type(exc).__name__}: {exc}") from exc
    except OSError as exc:  # urllib3 or the socket layer escaping requests' own wrapping
        raise RetryableTransportError(f"{type(exc).__name__}: {exc}") from exc


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    import email.utils  # deferred: ~7 ms of imports, for a rare header form

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max((when - dt.datetime.now(dt.timezone.utc)).total_seconds(), 0.0)


def _gzip(body: bytes) -> bytes:
    # zlib with a gzip header (wbits 31) and no file name or mtime: smallest, reproducible output.
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


class HttpBackend:
    """Sends batches to a PostHog host (Cloud or self-hosted) or the local reference server."""

    def __init__(self, api_key: str, host: str, *, gzip: bool = True, timeout_s: float = 10.0):
        self.url = f"{host.rstrip('/')}/batch/"
        self._head = b'{"api_key":' + json.dumps(api_key).encode() + b',"batch":['
        self._gzip = gzip
        self._timeout = (timeout_s, timeout_s)  # connect, read
        self._session: requests.Session | None = None
        self._pid = os.getpid()
        self.last_exchange: tuple[int, int] | None = None  # (HTTP status, request bytes)

    def body(self, batch: Sequence[bytes]) -> bytes:
        """The request body; ``sent_at`` is now, on every attempt (wire-protocol: timestamps)."""
        sent_at = now_timestamp()[0].encode()
        return self._head + b",".join(batch) + b'],"sent_at":"' + sent_at + b'"}'

    def send(self, batch: Sequence[bytes]) -> None:
        if self._session is None:
            self._check_reachable()
        session = self._get_session()  # before body(): sent_at must not include import time
        headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
        body = self.body(batch)
        if self._gzip and len(body) >= GZIP_MIN_BYTES:
            body = _gzip(body)
            headers["Content-Encoding"] = "gzip"
        with map_requests_exceptions():
            response = session.post(
                self.url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            )
        status = response.status_code
        self.last_exchange = (status, len(body))  # for the DEBUG log of each request
        if 200 <= status < 300:
            return
        reason = f"HTTP {status} from {self.url}"
        if status == 413:
            raise PayloadTooLargeError(reason)
        if status in _RETRYABLE_STATUS or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RetryableTransportError(reason, status_code=status, retry_after_s=retry_after)
        raise RejectedError(f"{reason}: {response.text[:200]}", status_code=status)

    def _check_reachable(self) -> None:
        """Before a process loads the HTTP stack (~100 ms of imports) for its first request,
        see with a bare TCP connect whether the host answers at all, so that an offline CLI
        exits at once with its events left on disk (P12). Skipped once ``requests`` is loaded
        anyway, behind a proxy, and where the system may configure one outside the environment
        (macOS, Windows)."""
        if (
            "requests" in sys.modules
            or sys.platform in ("darwin", "win32")
            or any(name.lower().endswith("_proxy") for name in os.environ)
        ):
            return
        import socket
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname, port), timeout=self._timeout[0]).close()
        except OSError as exc:
            raise RetryableTransportError(f"cannot reach {parts.hostname}:{port}: {exc}") from exc

    def _get_session(self) -> requests.Session:
        if self._pid != os.getpid():  # forked: the parent's pooled sockets are not ours
            self._session, self._pid = None, os.getpid()
        if self._session is None:
            import requests

            session = requests.Session()
            # Read proxy and CA settings from the environment once: with trust_env, requests
            # re-reads the whole environment on every request (~0.5 ms of Python per batch).
            session.proxies.update(requests.utils.get_environ_proxies(self.url))
            session.verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            )
            session.trust_env = False
            self._session = session
        return self._session

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and self._pid == os.getpid():
            session.close()
