"""A PostHog ``/batch/`` sink on 127.0.0.1 for delivery tests and benchmarks (stdlib only).

In a test: ``with LoopbackSink() as sink:`` then ``sink.url``, ``sink.events``, ``sink.requests``,
``sink.respond(503, {"Retry-After": "1"})`` to script the next answers, ``sink.hang()`` to keep
requests waiting (until ``sink.release()`` or exit, so nothing outlives the test).

As a process (benchmarks): ``python tests/loopback_sink.py PORT_FILE`` serves until killed and
answers ``GET /stats`` with ``{"events": n, "distinct": n, "requests": n}``.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import sys
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

_HANG_LIMIT_S = 30.0  # a hung request is released by then at the latest
_UUID = re.compile(rb'"uuid":\s*"([^"]+)"')  # counting mode: no JSON parse, no GIL hog


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as PostHog's load balancers do
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        sink = self.server.sink
        with sink.lock:
            stats = {"events": sink.count, "distinct": len(sink.uuids), "requests": sink.posts}
        self._answer(200, {}, json.dumps(stats).encode())

    def do_POST(self) -> None:
        sink = self.server.sink
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        gzipped = body[:2] == b"\x1f\x8b"
        if gzipped:
            body = gzip.decompress(body)
        status, headers, hang = sink.next_answer()
        if sink.keep:
            payload = json.loads(body)
            uuids = [event.get("uuid") for event in payload["batch"]]
        else:
            uuids = [uuid.decode() for uuid in _UUID.findall(body)]
        with sink.lock:
            sink.posts += 1
            if sink.keep:
                sink.requests.append(
                    {"headers": dict(self.headers), "gzip": gzipped, "payload": payload}
                )
            if 200 <= status < 300:
                sink.count += len(uuids)
                sink.uuids.update(uuids)
                if sink.keep:
                    sink.events.extend(payload["batch"])
        if hang:
            sink.released.wait(_HANG_LIMIT_S)
        self._answer(status, headers, b'{"status":1}' if status == 200 else b'{"status":0}')

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (timeout, exit): nothing to answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    sink: LoopbackSink


class LoopbackSink:
    """Records what PostHog would have ingested; answers 200 unless told otherwise."""

    def __init__(self, *, keep: bool = True, port: int = 0) -> None:
        self.keep = keep  # keep every event and request (tests) or only count (benchmarks)
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.uuids: set[str] = set()
        self.count = self.posts = 0
        self.released = threading.Event()
        self._answers: deque[tuple[int, dict[str, str], bool]] = deque()
        self._hang_all = False
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.sink = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def respond(
        self, status: int, headers: dict[str, str] | None = None, *, times: int = 1
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``headers``)."""
        for _ in range(times):
            self._answers.append((status, headers or {}, False))

    def hang(self) -> None:
        """Hold every request from now on, until ``release()`` or the sink closes."""
        self._hang_all = True

    def release(self) -> None:
        """Answer the held requests and stop holding new ones."""
        self._hang_all = False
        self.released.set()

    def next_answer(self) -> tuple[int, dict[str, str], bool]:
        with self.lock:
            if self._answers:
                return self._answers.popleft()
        return 200, {}, self._hang_all

    def __enter__(self) -> LoopbackSink:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


if __name__ == "__main__":
    sink = LoopbackSink(keep=False)
    Path(sys.argv[1]).write_text(sink.url)
    with sink:
        threading.Event().wait()
