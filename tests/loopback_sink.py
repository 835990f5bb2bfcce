"""A PostHog ``/batch/`` and capture v1 sink on 127.0.0.1 for delivery tests and benchmarks
(stdlib only); it also takes Mixpanel's ``/import`` (events, kept with their ``$insert_id`` as
``uuid``) and ``/engage``/``/groups`` (kept in ``updates``), so the fault suite runs against
every transport.

In a test: ``with LoopbackSink() as sink:`` then ``sink.url``, ``sink.events``, ``sink.requests``,
``sink.respond(503, {"Retry-After": "1"})`` to script the next answers (``body=`` sets the body,
``ECHO`` echoes the request; ``fault="reset"`` drops the connection, ``fault="garbage"`` answers
bytes that are not HTTP), ``sink.hang()`` to keep requests waiting (until ``sink.release()`` or
exit, so nothing outlives the test). Like PostHog, a body that is not valid UTF-8 JSON gets a 400.
A capture v1 request (``/i/v1/…``) gets a result per event: "ok" unless ``respond(200,
per_event=("ok", "retry", "drop"))`` scripts them by position; only accepted events are kept.

``Blackhole`` is a port where connections hang, as if packets were dropped.

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
import time
import zlib
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qs

_HANG_LIMIT_S = 30.0  # a hung request is released by then at the latest
_UUID = re.compile(rb'"(?:uuid|\$insert_id)":\s*"([^"]+)"')  # counting: no JSON parse, no GIL hog
ECHO = b"<echo>"  # as a scripted body: answer with the request body, as some proxies do


class _Answer(NamedTuple):
    status: int
    headers: dict[str, str]
    hang: bool = False
    body: bytes | None = None
    fault: str | None = None
    per_event: tuple[str, ...] = ()


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
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        gzipped = raw[:2] == b"\x1f\x8b"
        deflated = self.headers.get("Content-Encoding") == "deflate"
        body = gzip.decompress(raw) if gzipped else zlib.decompress(raw) if deflated else raw
        answer = sink.next_answer()
        if answer.fault is not None:
            self._fault(answer.fault)
            return
        status = answer.status
        path = self.path.split("?", 1)[0].rstrip("/")
        updates: list[Any] = []
        try:
            if path in ("/engage", "/groups"):  # Mixpanel: a form data=<JSON array>
                form = parse_qs(body.decode("utf-8"))
                payload, body = None, b""
                updates = json.loads(form["data"][0])
            else:
                payload = json.loads(body.decode("utf-8")) if sink.keep else None
        except (ValueError, KeyError):  # PostHog answers 400 to a body that is not UTF-8 JSON
            payload, status = None, 400
        batch = _events(payload)
        if batch is not None:
            uuids = [event.get("uuid") for event in batch]
        else:
            uuids = [uuid.decode() for uuid in _UUID.findall(body)]
        results = _results(uuids, answer.per_event) if self.path.startswith("/i/v1/") else None
        with sink.lock:
            sink.posts += 1
            if sink.keep:
                sink.requests.append(
                    {
                        "headers": dict(self.headers),
                        "gzip": gzipped,
                        "payload": payload,
                        "path": self.path,
                        "at": time.monotonic(),
                    }
                )
            if 200 <= status < 300:
                kept = [i for i, u in enumerate(uuids) if not results or results[u] in _ACCEPTED]
                sink.count += len(kept)
                sink.uuids.update(uuids[i] for i in kept)
                sink.updates.extend(updates)
                if sink.keep and batch is not None:
                    sink.events.extend(batch[i] for i in kept)
        sink.arrived.set()
        if answer.hang:
            sink.released.wait(_HANG_LIMIT_S)
        reply = answer.body
        if reply is None and results is not None and status == 200:
            answers = {u: {"result": r, **_DETAILS.get(r, {})} for u, r in results.items()}
            reply = json.dumps({"results": answers}).encode()
        elif reply is None:
            reply = b'{"status":1}' if status == 200 else b'{"status":0}'
        elif reply == ECHO:
            reply = body
        self._answer(status, answer.headers, reply)

    def _fault(self, fault: str) -> None:
        if fault == "garbage":
            self.wfile.write(b"\x00\xffthis is not HTTP\r\n\r\n")
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

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


_ACCEPTED = frozenset({"ok", "warning"})
_DETAILS = {"drop": {"details": "invalid_event"}, "retry": {"details": "not_persisted"}}


def _results(uuids: list[str], scripted: tuple[str, ...]) -> dict[str, str]:
    """Each event's capture v1 result by uuid: the scripted ones by position, then "ok"."""
    return {u: scripted[i] if i < len(scripted) else "ok" for i, u in enumerate(uuids)}


def _events(payload: Any) -> list[dict[str, Any]] | None:
    """The events of a request: PostHog's batch, or Mixpanel's /import records (with their
    ``$insert_id`` as ``uuid``)."""
    if isinstance(payload, dict):
        batch: list[dict[str, Any]] = payload["batch"]
        return batch
    if isinstance(payload, list):
        return [
            {**record, "uuid": record["properties"].get("$insert_id"),
             "distinct_id": record["properties"].get("distinct_id")}
            for record in payload
        ]  # fmt: skip
    return None


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
        self.updates: list[Any] = []  # Mixpanel's profile and group records
        self.requests: list[dict[str, Any]] = []
        self.uuids: set[str] = set()
        self.count = self.posts = 0
        self.released = threading.Event()
        self.arrived = threading.Event()  # set by every request
        self._answers: deque[_Answer] = deque()
        self._hang_all = False
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.sink = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def respond(
        self,
        status: int,
        headers: dict[str, str] | None = None,
        *,
        times: int = 1,
        body: bytes | None = None,
        fault: str | None = None,
        per_event: tuple[str, ...] = (),
    ) -> None:
        """Answer the next ``times`` requests with ``status``, ``headers`` and ``body``, or with
        a ``fault`` ("reset": close the connection; "garbage": bytes that are not HTTP); a
        capture v1 request with ``per_event`` results."""
        for _ in range(times):
            answer = _Answer(status, headers or {}, body=body, fault=fault, per_event=per_event)
            self._answers.append(answer)

    def hang(self) -> None:
        """Hold every request from now on, until ``release()`` or the sink closes."""
        self._hang_all = True

    def release(self) -> None:
        """Answer the held requests and stop holding new ones."""
        self._hang_all = False
        self.released.set()

    def next_answer(self) -> _Answer:
        with self.lock:
            if self._answers:
                return self._answers.popleft()
        return _Answer(200, {}, self._hang_all)

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


class Blackhole:
    """A 127.0.0.1 port where connecting hangs as if packets were dropped (a firewall, no
    route), without root: a listener that never accepts, its accept queue kept full, so that
    Linux drops further SYNs. ``with Blackhole() as hole:`` then ``hole.url``."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self._fillers: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> Blackhole:
        for _ in range(8):  # until the queue is full: a connect then times out
            filler = socket.socket()
            filler.settimeout(0.05)
            try:
                filler.connect(self._listener.getsockname())
            except TimeoutError:
                filler.close()
                return self
            self._fillers.append(filler)
        self.__exit__(None, None, None)
        raise RuntimeError("connections to a full accept queue are not dropped here")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for filler in self._fillers:
            filler.close()
        self._listener.close()


if __name__ == "__main__":
    sink = LoopbackSink(keep=False)
    Path(sys.argv[1]).write_text(sink.url)
    with sink:
        threading.Event().wait()
