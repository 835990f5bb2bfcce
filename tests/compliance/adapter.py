"""The adapter PostHog's SDK compliance harness drives (posthog-sdk-test-harness ADAPTER_GUIDE.md).

It is a small stdlib HTTP server on 127.0.0.1 that maps the harness's routes onto a real
``posthog_client.Client`` sending over HTTP to the harness's mock server; nothing in the SDK is
stubbed. Requests the SDK makes are observed by wrapping ``requests.Session.post``, the one call
the HTTP backends make, for ``GET /state``.

``--capture-api v0`` (the default) declares ``capture_v0`` and builds clients with
``capture_api="v0"``; ``--capture-api v1`` declares ``capture_v1`` instead (one process speaks
one protocol, as the harness's suites expect). Routes live in ``ROUTES``; supporting another
suite means adding its capability and its handler, nothing else. The ``feature_flags`` suite
needs no capability, only ``POST /get_feature_flag``.

**Parallel tests.** The adapter declares ``supports_parallel``: each harness ``test_id`` gets its
own client, and every request that client makes must carry ``X-Test-Id``. The SDK has no option
for extra headers, so each client is pointed at the mock server under its own loopback address
(``127.0.0.N``, all of 127/8 reaching the same server on Linux) and the observing wrapper adds
the header of the client the address belongs to. A mock server that is not on loopback gets the
sequential run instead.

    python tests/compliance/adapter.py [--port PORT] [--port-file FILE] [--capture-api v0|v1]

``--port 0`` (the default) picks a free port; the URL is printed and written to ``--port-file``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

import posthog_client
from posthog_client import Client
from posthog_client._events.v1_options import OPTIONS

ADAPTER_VERSION = "1.1.0"
CAPABILITIES = {"v0": ["capture_v0", "encoding_gzip"], "v1": ["capture_v1", "encoding_gzip"]}
CAPTURE_API = "v0"  # set by --capture-api
FLUSH_TIMEOUT_S = 60.0  # /flush blocks until the queue is empty or sending pauses
LOOPBACK_NAMES = ("localhost", "127.0.0.1")
_UUID = re.compile(rb'"uuid":"([^"]+)"')
_PROPERTY_OF_OPTION = {option: name for name, option, _, _ in OPTIONS}


class SDKState:
    """One SDK instance and what the harness may ask about it."""

    def __init__(self, test_id: str | None = None, address: str | None = None) -> None:
        self.test_id = test_id
        self.address = address  # its own loopback address (parallel runs)
        self.lock = threading.Lock()
        self.client: Client | None = None
        self.captured = 0
        self.requests_made: list[dict[str, Any]] = []
        self.last_error: str | None = None

    def start(self, config: dict[str, Any]) -> None:
        self.stop()
        host = config["host"]
        if self.address is not None:
            parts = urlsplit(host)
            host = parts._replace(netloc=f"{self.address}:{parts.port}").geturl()
        options: dict[str, Any] = {"host": host, "mode": "server", "capture_api": CAPTURE_API}
        if "flush_at" in config:
            options["flush_at"] = int(config["flush_at"])
            options["max_queue_size"] = max(options["flush_at"], 10_000)
        if "flush_interval_ms" in config:
            options["flush_interval_s"] = max(int(config["flush_interval_ms"]), 1) / 1000
        if "max_retries" in config:
            options["max_retries"] = int(config["max_retries"])
        if "enable_compression" in config:
            options["gzip"] = bool(config["enable_compression"])
        for name in ("disable_geoip", "historical_migration"):
            if name in config:
                options[name] = bool(config[name])
        self.client = Client(config["api_key"], **options)

    def stop(self) -> None:
        """Drop the instance and whatever it still holds, and forget what it did."""
        client, self.client = self.client, None
        if client is not None:
            client.opt_out()  # the harness's reset clears pending events: none may leak out
            client.shutdown(0)
            if self.test_id is None:  # sequential: a worker mid-request must not reach the
                for thread in threading.enumerate():  # next test (in parallel runs, a late
                    if thread.name == "posthog_client.worker":  # request goes to its own
                        thread.join(5)  # test's partition)
        with self.lock:
            self.captured = 0
            self.requests_made = []
            self.last_error = None

    def record(self, body: bytes, status: int | None, error: str | None) -> None:
        uuids = [u.decode() for u in _UUID.findall(body)]
        with self.lock:
            previous = self.requests_made[-1] if self.requests_made else None
            retry = 0
            if previous is not None and set(uuids) <= set(previous["uuid_list"]):
                retry = previous["retry_attempt"] + 1  # the same events, or those left to retry
            self.requests_made.append(
                {
                    "timestamp_ms": int(time.time() * 1000),
                    "status_code": status,
                    "retry_attempt": retry,
                    "event_count": len(uuids),
                    "uuid_list": uuids,
                }
            )
            if error is not None or (status is not None and status >= 300):
                self.last_error = error or f"HTTP {status}"

    def snapshot(self) -> dict[str, Any]:
        stats = self.client.stats() if self.client is not None else {}
        with self.lock:
            return {
                "pending_events": stats.get("pending", 0),
                "total_events_captured": self.captured,
                "total_events_sent": stats.get("sent", 0),
                "total_retries": sum(1 for r in self.requests_made if r["retry_attempt"]),
                "last_error": self.last_error,
                "requests_made": list(self.requests_made),
            }


class Instances:
    """The SDK instance of each test (``None``: the sequential run's one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_test: dict[str | None, SDKState] = {None: SDKState()}
        self._by_address: dict[str, SDKState] = {}
        self._next = 0

    def get(self, test_id: str | None) -> SDKState:
        with self._lock:
            state = self._by_test.get(test_id)
            if state is None:
                address = None
                for _ in range(253):  # a free 127.0.0.N, N from 2 to 254
                    self._next = self._next % 253 + 1
                    candidate = f"127.0.0.{self._next + 1}"
                    if candidate not in self._by_address:
                        address = candidate
                        break
                if address is None:
                    raise RuntimeError("more than 253 tests at once")
                state = self._by_test[test_id] = self._by_address[address] = SDKState(
                    test_id, address
                )
            return state

    def remove(self, test_id: str | None) -> SDKState | None:
        with self._lock:
            if test_id is None:
                return self._by_test[None]
            state = self._by_test.pop(test_id, None)
            if state is not None and state.address is not None:
                self._by_address.pop(state.address, None)
            return state

    def for_url(self, url: str) -> SDKState:
        with self._lock:
            return self._by_address.get(urlsplit(url).hostname or "", self._by_test[None])

    def stop_all(self) -> None:
        with self._lock:
            states = list(self._by_test.values())
        for state in states:
            state.stop()


INSTANCES = Instances()


def _observe_requests() -> None:
    """Wrap ``requests.Session``: every request the SDK makes carries the ``X-Test-Id`` of the
    test whose client makes it (events and ``/flags`` alike), and every capture (``post``, the
    one call the event backends make) is recorded."""
    original_request = requests.Session.request
    original = requests.Session.post

    def request(session: requests.Session, method: str, url: str, **kwargs: Any) -> Any:
        state = INSTANCES.for_url(url)
        if state.test_id is not None:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "X-Test-Id": state.test_id}
        return original_request(session, method, url, **kwargs)

    def post(session: requests.Session, url: str, data: Any = None, **kwargs: Any) -> Any:
        import gzip
        import zlib

        state = INSTANCES.for_url(url)
        body = data if isinstance(data, bytes) else b""
        encoding = (kwargs.get("headers") or {}).get("Content-Encoding")
        plain = {"gzip": gzip.decompress, "deflate": zlib.decompress}.get(encoding, bytes)(body)
        try:
            response = original(session, url, data=data, **kwargs)
        except requests.RequestException as exc:
            state.record(plain, None, f"{type(exc).__name__}: {exc}")
            raise
        state.record(plain, response.status_code, None)
        return response

    requests.Session.request = request  # type: ignore[assignment,method-assign]
    requests.Session.post = post  # type: ignore[assignment,method-assign]


# -- routes -----------------------------------------------------------------------------------

Handler = Callable[[dict[str, Any], str | None], tuple[int, dict[str, Any]]]


def health(_: dict[str, Any], __: str | None) -> tuple[int, dict[str, Any]]:
    return 200, {
        "sdk_name": "posthog-client-python",
        "sdk_version": posthog_client.__version__,
        "adapter_version": ADAPTER_VERSION,
        "capabilities": CAPABILITIES[CAPTURE_API],
        "supports_parallel": True,
    }


def init(body: dict[str, Any], test_id: str | None) -> tuple[int, dict[str, Any]]:
    if not body.get("api_key") or not body.get("host"):
        return 400, {"error": "api_key and host are required"}
    if test_id is not None and urlsplit(body["host"]).hostname not in LOOPBACK_NAMES:
        return 400, {"error": "parallel runs need the mock server on loopback"}
    INSTANCES.get(test_id).start(body)
    return 200, {"success": True}


def capture(body: dict[str, Any], test_id: str | None) -> tuple[int, dict[str, Any]]:
    state = INSTANCES.get(test_id)
    client = state.client
    if client is None:
        return 400, {"error": "SDK not initialized"}
    properties = body.get("properties")
    if body.get("options"):  # v1 options are properties the SDK carries (v1_events.py)
        options = {_PROPERTY_OF_OPTION.get(k, f"${k}"): v for k, v in body["options"].items()}
        properties = {**(properties or {}), **options}
    uuid = client.capture(
        body.get("event"),  # type: ignore[arg-type]  # the SDK itself must cope with bad input
        properties,
        distinct_id=body.get("distinct_id"),
        timestamp=body.get("timestamp"),  # an ISO string, parsed by the SDK
        uuid=body.get("uuid"),
    )
    with state.lock:
        state.captured += uuid is not None
    return 200, {"success": uuid is not None, "uuid": uuid}


def flush(_: dict[str, Any], test_id: str | None) -> tuple[int, dict[str, Any]]:
    client = INSTANCES.get(test_id).client
    if client is None:
        return 200, {"success": True, "events_flushed": 0}
    result = client.flush(FLUSH_TIMEOUT_S)
    return 200, {"success": True, "events_flushed": result.sent}


def state(_: dict[str, Any], test_id: str | None) -> tuple[int, dict[str, Any]]:
    return 200, INSTANCES.get(test_id).snapshot()


def reset(_: dict[str, Any], test_id: str | None) -> tuple[int, dict[str, Any]]:
    instance = INSTANCES.remove(test_id)
    if instance is not None:
        instance.stop()
    return 200, {"success": True}


# Arguments of Client.get_feature_flag the harness may send, under the same names.
_FLAG_ARGUMENTS = ("person_properties", "groups", "group_properties", "disable_geoip")


def get_feature_flag(body: dict[str, Any], test_id: str | None) -> tuple[int, dict[str, Any]]:
    """One flag through the real ``Client.get_feature_flag``: its ``/flags`` requests, their
    retries and its ``$feature_flag_called`` are the SDK's own. Always remote (the adapter sets
    no secret key), as the suite's ``force_remote`` asks."""
    client = INSTANCES.get(test_id).client
    if client is None:
        return 400, {"error": "SDK not initialized"}
    if not isinstance(body.get("key"), str) or "distinct_id" not in body:
        return 400, {"error": "key and distinct_id are required"}
    options = {name: body[name] for name in _FLAG_ARGUMENTS if name in body}
    value = client.get_feature_flag(body["key"], distinct_id=body["distinct_id"], **options)
    return 200, {"success": True, "value": value}


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/health"): health,
    ("POST", "/init"): init,
    ("POST", "/capture"): capture,
    ("POST", "/flush"): flush,
    ("GET", "/state"): state,
    ("POST", "/reset"): reset,
    ("POST", "/get_feature_flag"): get_feature_flag,
}


class _RequestHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the harness reports what matters."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        test_id = (parse_qs(query).get("test_id") or [None])[0]
        handler = ROUTES.get((method, path))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if handler is None:
            status, answer = 404, {"error": f"no route {method} {path}"}
        else:
            try:
                status, answer = handler(json.loads(raw) if raw else {}, test_id)
            except Exception as exc:  # report it to the harness instead of dropping the socket
                status, answer = 500, {"error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    global CAPTURE_API
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--capture-api", choices=sorted(CAPABILITIES), default="v0")
    args = parser.parse_args()
    CAPTURE_API = args.capture_api
    _observe_requests()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _RequestHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    if args.port_file is not None:
        args.port_file.write_text(url)
    print(f"adapter listening on {url} (capture {CAPTURE_API})", flush=True)
    try:
        server.serve_forever()
    finally:
        INSTANCES.stop_all()


if __name__ == "__main__":
    main()
