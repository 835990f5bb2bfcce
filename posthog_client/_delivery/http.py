"""HTTP to an ingestion host: ``HttpTransport``, what every HTTP backend shares (PostHog's capture
v0 and v1, Mixpanel), ``PostHogTransport``, what PostHog's endpoints mean, and ``HttpBackend``,
capture v0 (``POST {host}/batch/``); capture v1 is ``capture_v1.CaptureV1Backend``, Mixpanel
``mixpanel.MixpanelBackend``.

One ``requests.Session`` per backend, renewed in a forked child. The v0 body is spliced from the
already-encoded events, never decoded and re-encoded. When compression is on every body is
compressed, whatever its size (``Content-Encoding: gzip``, as PostHog's SDK compliance harness
expects; capture v1 may use zlib ``deflate``). ``requests`` is imported on the first send, off
the import path of ``posthog_client`` (~100 ms), inside ``lazy_imports`` so that a fork waits
for it. Errors map to the ``TransportError`` tree in one place, ``map_requests_exceptions``, and
PostHog's statuses in another, ``PostHogTransport._raise_for``: 413 splits, 408, 429, 5xx and
redirects not followed are retried, other 4xx are final.

Redirects (301, 302, 307, 308) are followed, re-posting the same body, only on the same host and
never from https to http (``redirect_target``): the request carries the project key, which must
not go anywhere the user did not configure. A redirect elsewhere is not followed; the events stay
queued (a configuration problem, fixed by the user while they wait) and one ERROR says so.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final, NoReturn

from .._events.runtime import LIB_NAME
from .._events.timestamps import now_timestamp
from .._exceptions import PayloadTooLargeError, RejectedError, RetryableTransportError
from .._fork_safety import lazy_imports
from .._log import clip, error_once
from .._version import __version__
from .retry import MAX_PAUSE_S

if TYPE_CHECKING:
    import requests

__all__ = [
    "USER_AGENT",
    "HttpBackend",
    "HttpTransport",
    "PostHogTransport",
    "SessionOwner",
    "compress",
    "gzip_body",
    "map_requests_exceptions",
    "parse_retry_after",
    "redirect_target",
]

GZIP_LEVEL: Final = 1  # 7.6x smaller at under half the CPU of level 6 (8.7x): bench_gzip.py
# The first connect of a process, before the HTTP stack is loaded: short, so that a process
# exits at once where packets are dropped (a firewall, no route), not only where refused. A
# slower network costs one attempt: after a timeout, the next ones use the full timeout.
PROBE_TIMEOUT_S: Final = 0.2
MAX_REDIRECTS: Final = 5
_REDIRECTS: Final = frozenset({301, 302, 307, 308})
_RETRYABLE_STATUS: Final = frozenset({408, 429})
USER_AGENT: Final = f"{LIB_NAME}/{__version__}"
_KEY_HINT: Final = (
    "check that api_key is the project API key (phc_..., Project settings), not a personal API "
    "key, and that host is your project's region (https://us.i.posthog.com or "
    "https://eu.i.posthog.com) or your own instance"
)


@contextmanager
def map_requests_exceptions() -> Iterator[None]:
    """Turn whatever ``requests`` (or the socket under it) raises into a ``TransportError``.

    Every failure to get a response is retryable: events must not be dropped for a network
    problem (A10), and a bad URL or proxy setting is fixed by the user while events wait.
    """
    import requests

    try:
        yield
    except (requests.RequestException, OSError) as exc:  # OSError: urllib3 or the socket layer
        raise RetryableTransportError(f"{type(exc).__name__}: {clip(_root_cause(exc))}") from exc


def _root_cause(exc: BaseException) -> str:
    """The innermost error under ``requests``' wrappers ("[Errno 111] Connection refused"), so a
    short message says what went wrong rather than which pool retried."""
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "reason", None)  # urllib3's MaxRetryError
        if not isinstance(inner, BaseException):
            first = current.args[0] if current.args else None
            inner = first if isinstance(first, BaseException) else None
        inner = inner or current.__cause__ or current.__context__
        if inner is None:
            break
        current = inner
    return str(current) or str(exc)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), between 0
    and ``MAX_PAUSE_S``; None when absent or unreadable. Any header value is safe here."""
    if not value or not value.strip():
        return None
    seconds: float | None
    try:
        seconds = float(value)
    except ValueError:
        seconds = _seconds_until(value)
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_PAUSE_S)


def _seconds_until(date: str) -> float | None:
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return (when - dt.datetime.now(dt.timezone.utc)).total_seconds()


def redirect_target(url: str, location: str) -> str | None:
    """Where a redirect from ``url`` to ``location`` may be followed, or None if it must not:
    only to the same host, over http(s), never from https down to http, with no credentials."""
    from urllib.parse import urljoin, urlsplit

    try:
        target = urljoin(url, location.strip())
        old, new = urlsplit(url), urlsplit(target)
        new_port = new.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    if new.scheme not in ("http", "https") or (old.scheme, new.scheme) == ("https", "http"):
        return None
    if new.username is not None or new.password is not None or new_port == 0:
        return None
    if not new.hostname or new.hostname != old.hostname:
        return None
    return target


def gzip_body(body: bytes) -> bytes:
    # zlib with a gzip header (wbits 31) and no file name or mtime: smallest, reproducible output.
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


def compress(body: bytes, encoding: str) -> bytes:
    """``body`` in the ``Content-Encoding`` ``encoding``: "gzip", or "deflate" as HTTP means it,
    the zlib format (RFC 1950; raw DEFLATE would be misread)."""
    return gzip_body(body) if encoding == "gzip" else zlib.compress(body, GZIP_LEVEL)


class SessionOwner:
    """One ``requests.Session`` per process for requests to ``url``'s host: made on first use
    (the HTTP stack imported then, inside ``lazy_imports``), renewed in a forked child, whose
    parent's pooled sockets are not its own; shared by the event transports and the flags'."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._session: requests.Session | None = None
        self._pid = os.getpid()

    def _get_session(self) -> requests.Session:
        if self._pid != os.getpid():  # forked: the parent's pooled sockets are not ours
            self._session, self._pid = None, os.getpid()
        if self._session is None:
            with lazy_imports():  # all the modules sending needs later, before any fork
                import email.utils  # noqa: F401  (parse_retry_after)
                import urllib.parse  # noqa: F401  (redirect_target)

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


class HttpTransport(SessionOwner):
    """One ``requests.Session`` to one ingestion host, shared by PostHog's and Mixpanel's
    backends: the reachability check before the first request, same-host redirects, a new
    session in a forked child. ``post`` maps network errors and redirects it does not follow to
    ``RetryableTransportError``; subclasses read every other answer."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        super().__init__(url)
        self._timeout = (timeout_s, timeout_s)  # connect, read
        self._moved: dict[str, str] = {}  # permanent redirects: later requests go straight there
        self._probe = True  # connect with PROBE_TIMEOUT_S before the first request
        self.last_exchange: tuple[int, int] | None = None  # (HTTP status, request bytes)

    def connect(self) -> requests.Session:
        """The session, made (after the reachability check) on first use."""
        if self._session is None and self._probe:
            self._check_reachable()
        return self._get_session()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        """POST ``body`` to ``url`` (or where it moved to), following same-host redirects."""
        session = self.connect()
        start = url
        url = self._moved.get(url, url)
        for _ in range(MAX_REDIRECTS + 1):
            with map_requests_exceptions():
                response = session.post(
                    url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
                )
            status = response.status_code
            if status not in _REDIRECTS:
                break
            url = self._follow(url, status, response.headers.get("Location") or "")
            if status in (301, 308):  # permanent
                self._moved[start] = url
        else:
            raise RetryableTransportError(f"more than {MAX_REDIRECTS} redirects from {start}")
        self.last_exchange = (status, len(body))  # for the DEBUG log of each request
        if 300 <= status < 400:  # a redirect this SDK does not follow (300, 303, 304, ...)
            error_once(f"http-{status}", "%s answers HTTP %d; events stay queued", url, status)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RetryableTransportError(
                f"HTTP {status} from {url}", status_code=status, retry_after_s=retry_after
            )
        return response

    def _follow(self, url: str, status: int, location: str) -> str:
        target = redirect_target(url, location)
        if target is None:
            error_once(
                f"redirect-{url}",
                "%s answers HTTP %d, a redirect to %s: not followed, because a redirect may only "
                "change the path or go from http to https on the same host (the request carries "
                "the project key). Events stay queued; set host= to the address that answers.",
                url,
                status,
                clip(location),
            )
            raise RetryableTransportError(f"HTTP {status} from {url}: redirect not followed")
        return target

    def _check_reachable(self) -> None:
        """Before a process loads the HTTP stack (~100 ms of imports) for its first request,
        see with a bare TCP connect (``PROBE_TIMEOUT_S``) whether the host answers at all, so
        that an offline CLI exits at once with its events left on disk (P12). Skipped once
        ``requests`` is loaded anyway, behind a proxy, and where the system may configure one
        outside the environment (macOS, Windows)."""
        if (
            "requests" in sys.modules
            or sys.platform in ("darwin", "win32")
            or any(name.lower().endswith("_proxy") for name in os.environ)
        ):
            return
        with lazy_imports():
            import socket
            from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname, port), timeout=PROBE_TIMEOUT_S).close()
        except OSError as exc:
            if isinstance(exc, TimeoutError):  # dropped, or only slow: next time, the full wait
                self._probe = False
            raise RetryableTransportError(f"cannot reach {parts.hostname}:{port}: {exc}") from exc


class PostHogTransport(HttpTransport):
    """A PostHog endpoint (Cloud, self-hosted or the local server): the project key, the
    compression of every body, and what each status means."""

    def __init__(
        self, api_key: str, url: str, *, encoding: str | None = "gzip", timeout_s: float = 10.0
    ) -> None:
        super().__init__(url, timeout_s=timeout_s)
        self._api_key = api_key
        self._encoding = encoding  # Content-Encoding of every body; None: uncompressed

    def _post(self, build: Callable[[], tuple[bytes, dict[str, str]]]) -> requests.Response:
        """POST the body and headers ``build`` makes; the 2xx response, or a ``TransportError``.

        ``build`` runs once the HTTP stack is loaded, so a send time it stamps excludes the
        import time.
        """
        self.connect()
        body, headers = build()
        headers["Content-Type"] = "application/json"
        headers["User-Agent"] = USER_AGENT
        if self._encoding is not None:
            body = compress(body, self._encoding)
            headers["Content-Encoding"] = self._encoding
        response = self.post(self.url, body, headers)
        if not 200 <= response.status_code < 300:
            self._raise_for(response, response.url or self.url)
        return response

    def _raise_for(self, response: requests.Response, url: str) -> NoReturn:
        """The ``TransportError`` a status that is not 2xx (nor a redirect) means."""
        status = response.status_code
        reason = f"HTTP {status} from {url}"
        if status == 413:
            raise PayloadTooLargeError(reason)
        if status in _RETRYABLE_STATUS or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RetryableTransportError(reason, status_code=status, retry_after_s=retry_after)
        if status in (401, 403):
            error_once(
                f"http-{status}", "PostHog refused the project key (%s): %s", reason, _KEY_HINT
            )
        raise RejectedError(f"{reason}: {self._redacted(response.text)}", status_code=status)

    def _redacted(self, text: str) -> str:
        """A response body fit for a log line: short, and never the key (some servers echo)."""
        return clip(text.replace(self._api_key, "<api_key>"), 200)


class HttpBackend(PostHogTransport):
    """Capture v0: batches to ``POST {host}/batch/``, the project key in the body."""

    def __init__(
        self,
        api_key: str,
        host: str,
        *,
        gzip: bool = True,
        timeout_s: float = 10.0,
        historical_migration: bool = False,
    ) -> None:
        encoding = "gzip" if gzip else None
        super().__init__(
            api_key, f"{host.rstrip('/')}/batch/", encoding=encoding, timeout_s=timeout_s
        )
        backfill = b'"historical_migration":true,' if historical_migration else b""
        self._head = b'{"api_key":' + json.dumps(api_key).encode() + b"," + backfill + b'"batch":['

    def body(self, batch: Sequence[bytes]) -> bytes:
        """The request body; ``sent_at`` is now, on every attempt (wire-protocol: timestamps)."""
        sent_at = now_timestamp()[0].encode()
        return self._head + b",".join(batch) + b'],"sent_at":"' + sent_at + b'"}'

    def send(self, batch: Sequence[bytes]) -> None:
        self._post(lambda: (self.body(batch), {}))
