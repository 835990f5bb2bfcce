"""HTTP front of the local server: one threading server dispatching to a route table.

Routes (``_router.Route``) are PostHog's ingestion routes, the JSON query API and the person
explorer. A bad request never stops the server and never gets a 5xx; errors are JSON
(``{"status", "code", "error"}``) except on explorer pages. Connections are kept alive
(HTTP/1.1) and tracked, so stopping the server closes them and joins every handler thread.
"""

from __future__ import annotations

import re
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

from .._log import logger
from ._access import KEY_COOKIE, AccessPolicy
from ._payload import BATCH_BODY_LIMIT
from ._router import Request, Response, Route, Router

__all__ = ["IngestionHTTPServer"]

_IDLE_TIMEOUT_S: Final = 60.0
_MAX_DRAIN: Final = 4 * BATCH_BODY_LIMIT  # past this, hanging up beats reading an oversized body
_KEY_IN_QUERY: Final = re.compile(r"([?&]key=)[^&\s]*")
_SECURITY_HEADERS: Final = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


class IngestionHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server serving one route table under one access policy."""

    # handler threads are joined on close; stop() first shuts their connections down
    daemon_threads = False
    block_on_close = True
    # a burst of SDK connections must not wait for SYN retransmits (the default backlog is 5)
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        router: Router,
        access: AccessPolicy,
        *,
        log_requests: bool = False,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.router = router
        self.access = access
        self.log_requests = log_requests
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open connection, so idle keep-alive handlers return at once."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up mid-request is not worth a traceback on stderr
        logger.debug("local server: connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: IngestionHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT_S
    # headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK stall every keep-alive response by ~40 ms
    disable_nagle_algorithm = True
    server_version = "posthog-client-local"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        match = self.server.router.match(method, url.path)
        if match is None:
            self._send(_error(404, "not_found", f"no such route: {method} {url.path}", close=True))
            return
        route, params = match
        query = parse_qs(url.query, keep_blank_values=True)
        refusal = self._refusal(route, query)
        body = self._read_body(route.body_limit) if method == "POST" else b""
        if body is None:
            return
        if refusal is not None:
            self._send(refusal)
            return
        if route.html and "key" in query and self.server.access.personal_api_key is not None:
            self._send(_remember_key(url.path, query, self.server.access.personal_api_key))
            return
        request = Request(method, url.path, query, self.headers, body, params)
        try:
            response = route.handler(request)
        except Exception:
            logger.exception("local server: failed to answer %s %s", method, url.path)
            response = _error(500, "internal_error", "the local server failed to answer")
        self._send(response)

    def _refusal(self, route: Route, query: dict[str, list[str]]) -> Response | None:
        """Why a private route may not answer this request, or None."""
        if not route.private:
            return None
        access = self.server.access
        if not access.host_allowed(self.headers):
            message = "unknown Host header: use the address the server printed at start-up"
            return _refused(route, 403, "host_not_allowed", message)
        if not access.key_given(self.headers, query):
            message = "this server needs its personal API key: Authorization: Bearer <key>"
            return _refused(route, 401, "authentication_required", message)
        return None

    def _read_body(self, limit: int) -> bytes | None:
        """The request body, or None once the request was answered (411, 413, 400) or lost."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send(_error(411, "length_required", "send a Content-Length", close=True))
            return None
        text = self.headers.get("Content-Length", "0").strip()
        if not (text.isascii() and text.isdigit()):
            self._send(_error(400, "invalid_content_length", "invalid Content-Length", close=True))
            return None
        length = int(text)
        if length > limit:
            # drain the body (without keeping it) so the client can read the answer; past a
            # point, hanging up is cheaper than reading on
            drain = length <= _MAX_DRAIN
            if drain:
                while length > 0 and (chunk := self.rfile.read(min(length, 1 << 16))):
                    length -= len(chunk)
            message = f"payload exceeds {limit} bytes"
            self._send(_error(413, "event_too_big", message, close=not drain or length > 0))
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own errors (malformed request line, unsupported method) as JSON too
        self.log_error("code %d, message %s", code, message)
        phrase = HTTPStatus(code).phrase
        self._send(_error(code, phrase.lower().replace(" ", "_"), message or phrase, close=True))

    def _send(self, response: Response) -> None:
        if response.close:
            self.close_connection = True
        self.send_response(response.status)
        if response.content_type is not None:
            self.send_header("Content-Type", response.content_type)
        for name, value in (*_SECURITY_HEADERS, *response.headers):
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            # a personal API key may ride in the query string: never print it
            super().log_message(format, *(_KEY_IN_QUERY.sub(r"\1…", str(a)) for a in args))


def _error(status: int, code: str, message: str, *, close: bool = False) -> Response:
    return Response.error(status, code, message, close=close)


def _refused(route: Route, status: int, code: str, message: str) -> Response:
    if not route.html:
        return Response.error(status, code, message)
    if status == 401:
        message = "Open the explorer with the link the server printed at start-up (/?key=…)."
    page = f"<!doctype html><title>{HTTPStatus(status).phrase}</title><p>{message}</p>"
    return Response(status, page.encode(), "text/html; charset=utf-8")


def _remember_key(path: str, query: dict[str, list[str]], key: str) -> Response:
    """Answer a page opened with the right ``?key=``: keep it in a cookie, drop it from the URL."""
    rest = urlencode({k: v for k, v in query.items() if k != "key"}, doseq=True)
    cookie = f"{KEY_COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict"
    headers = (("Location", f"{path}?{rest}" if rest else path), ("Set-Cookie", cookie))
    return Response(303, headers=headers)
