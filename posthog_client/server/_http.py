"""HTTP front of the local server: PostHog's ingestion routes and the JSON query API.

Every answer is JSON, errors included (``{"status", "code", "error"}``), and a bad request
never stops the server. Connections are kept alive (HTTP/1.1) and tracked, so stopping the
server closes them and joins every handler thread.
"""

from __future__ import annotations

import json
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from .._log import logger
from ._engine import PersonEngine
from ._models import RequestRejectedError
from ._payload import BATCH_BODY_LIMIT, EVENT_BODY_LIMIT, check_token, parse_ingest_request
from ._query import answer_query

__all__ = ["IngestionHTTPServer"]

_BATCH_ROUTE: Final = "/batch"
_EVENT_ROUTES: Final = frozenset({"/capture", "/e", "/i/v0/e", "/track"})
_IDLE_TIMEOUT_S: Final = 60.0
_MAX_DRAIN: Final = 4 * BATCH_BODY_LIMIT


class IngestionHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one engine and one project key."""

    # handler threads are joined on close; stop() first shuts their connections down
    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        engine: PersonEngine,
        api_key: str,
        *,
        log_requests: bool = False,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.engine = engine
        self.api_key = api_key
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

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        route = url.path.rstrip("/")
        if route != _BATCH_ROUTE and route not in _EVENT_ROUTES:
            self._send_error(404, "not_found", f"no such route: POST {url.path}", close=True)
            return
        limit = BATCH_BODY_LIMIT if route == _BATCH_ROUTE else EVENT_BODY_LIMIT
        body = self._read_body(limit)
        if body is None:
            return
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            request = parse_ingest_request(
                body,
                limit=limit,
                query=query,
                content_type=self.headers.get("Content-Type", ""),
                content_encoding=self.headers.get("Content-Encoding", ""),
            )
            check_token(request, self.server.api_key)
            self.server.engine.ingest(request.events, sent_at=request.sent_at)
        except RequestRejectedError as exc:
            self._send_error(exc.status, exc.code, str(exc))
        except Exception:
            logger.exception("local server: failed to ingest a request to %s", url.path)
            self._send_error(500, "internal_error", "the local server failed to store the events")
        else:
            if query.get("beacon") == ["1"]:
                self._send(204, None)
            else:
                self._send(200, {"status": 1})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        try:
            status, payload = answer_query(
                self.server.engine, url.path, parse_qs(url.query, keep_blank_values=True)
            )
        except Exception:
            logger.exception("local server: failed to answer GET %s", url.path)
            self._send_error(500, "internal_error", "the local server failed to answer")
            return
        self._send(status, payload)

    def _read_body(self, limit: int) -> bytes | None:
        """The request body, or None once the request was answered (411, 413, 400) or lost."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send_error(411, "length_required", "send a Content-Length", close=True)
            return None
        text = self.headers.get("Content-Length", "0").strip()
        if not (text.isascii() and text.isdigit()):
            self._send_error(400, "invalid_content_length", "invalid Content-Length", close=True)
            return None
        length = int(text)
        if length > limit:
            # drain the body (without keeping it) so the client can read the answer; past a
            # point, hanging up is cheaper than reading on
            drain = length <= _MAX_DRAIN
            if drain:
                while length > 0 and (chunk := self.rfile.read(min(length, 1 << 16))):
                    length -= len(chunk)
            self._send_error(
                413,
                "event_too_big",
                f"payload exceeds {limit} bytes",
                close=not drain or length > 0,
            )
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
        self._send_error(code, phrase.lower().replace(" ", "_"), message or phrase, close=True)

    def _send_error(self, status: int, code: str, message: str, *, close: bool = False) -> None:
        if close:
            self.close_connection = True
        self._send(status, {"status": status, "code": code, "error": message})

    def _send(self, status: int, payload: dict[str, Any] | None) -> None:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)
