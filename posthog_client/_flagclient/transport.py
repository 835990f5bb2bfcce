"""HTTP for flags: ``POST /flags/?v=2`` (F1, F2, F11, F13), the definitions local evaluation
polls (SR9) and remote config payloads (SR12), over this room's own ``requests.Session``; never
through the event queue.

A backend that answers flags itself (the test double's ``Recorder``, with a ``flags(body)``
method) is asked instead of the network. Failures raise the package's ``TransportError``s;
:func:`error_code` names them as PostHog's SDKs report them (``$feature_flag_error``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple
from urllib.parse import quote

from .._delivery.http import USER_AGENT, SessionOwner, map_requests_exceptions
from .._exceptions import RejectedError, RetryableTransportError

if TYPE_CHECKING:
    import requests

__all__ = ["Definitions", "FlagsTransport", "error_code"]

_RETRIED_STATUSES: Final = frozenset({502, 504})  # F11: only gateways, as posthog-python
_BACKOFF_S: Final = 0.3

FlagsHook = Callable[[Mapping[str, Any]], Mapping[str, Any]]


class Definitions(NamedTuple):
    """One poll of the definitions endpoint: ``data`` None when nothing new came (304, error)."""

    status: int
    data: Any = None
    etag: str | None = None


def error_code(error: Exception) -> str:
    """F13's name for a failed request: ``timeout``, ``connection_error``,
    ``api_error_<status>`` or ``unknown_error``."""
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        return f"api_error_{status}"
    if isinstance(error, RetryableTransportError):
        cause = error.__cause__
        timed_out = type(cause).__name__ in ("Timeout", "ReadTimeout", "ConnectTimeout")
        return "timeout" if timed_out or isinstance(cause, TimeoutError) else "connection_error"
    return "unknown_error"


class FlagsTransport(SessionOwner):
    """Asks PostHog (or a backend that knows flags) about flags; one instance per client."""

    def __init__(
        self,
        api_key: str,
        host: str,
        *,
        timeout_s: float,
        secret_key: str | None = None,
        backend: object = None,
        max_retries: int = 1,
    ) -> None:
        self._host = host.rstrip("/")
        super().__init__(self._host)
        self.api_key = api_key
        self._timeout = timeout_s
        self.secret_key = secret_key
        hook = getattr(backend, "flags", None)
        self._hook: FlagsHook | None = hook if callable(hook) else None
        self._max_retries = max_retries

    @property
    def local_evaluation_possible(self) -> bool:
        """Definitions can be polled: a secret key, and the network is where flags are."""
        return self.secret_key is not None and self._hook is None

    def flags(self, body: Mapping[str, Any]) -> Any:
        """The decoded answer of ``/flags`` to ``body``; retries 502, 504 and network errors."""
        if self._hook is not None:
            return self._hook(body)
        data = json.dumps(body, separators=(",", ":")).encode()
        attempt = 0
        while True:
            try:
                return self._request("POST", "/flags/?v=2", data=data).json()
            except RetryableTransportError as exc:
                retried = exc.status_code is None or exc.status_code in _RETRIED_STATUSES
                if not retried or attempt >= self._max_retries:
                    raise
            time.sleep(_BACKOFF_S * 2**attempt)
            attempt += 1

    def definitions(self, etag: str | None) -> Definitions:
        """Poll ``/flags/definitions`` (SR9): 304 keeps what the caller has."""
        assert self.secret_key is not None
        headers = {"If-None-Match": etag} if etag else {}
        path = f"/flags/definitions?token={quote(self.api_key)}&send_cohorts"
        response = self._request("GET", path, headers=headers, authorized=True, accept=(304,))
        if response.status_code == 304:
            return Definitions(304, None, etag)
        return Definitions(response.status_code, response.json(), response.headers.get("ETag"))

    def remote_config(self, key: str) -> Any:
        """SR12: the decrypted payload of a remote config flag (needs the secret key)."""
        path = (
            f"/api/projects/@current/feature_flags/{quote(key, safe='')}/remote_config"
            f"?token={quote(self.api_key)}"
        )
        return self._request("GET", path, authorized=True).json()

    def _request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        authorized: bool = False,
        accept: tuple[int, ...] = (),
    ) -> requests.Response:
        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        if authorized:  # only the secret key authenticates; /flags carries the token (F2)
            all_headers["Authorization"] = f"Bearer {self.secret_key}"
        session = self._get_session()
        with map_requests_exceptions():
            response = session.request(
                method,
                f"{self._host}{path}",
                data=data,
                headers=all_headers,
                timeout=self._timeout,
                allow_redirects=False,
            )
        status = response.status_code
        if 200 <= status < 300 or status in accept:
            return response
        message = f"HTTP {status} from {self._host}{path.split('?', 1)[0]}"
        if status == 429 or status >= 500:
            raise RetryableTransportError(message, status_code=status)
        raise RejectedError(message, status_code=status)
