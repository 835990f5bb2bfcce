"""The adapter PostHog's SDK compliance harness drives (posthog-sdk-test-harness ADAPTER_GUIDE.md).

It is a small stdlib HTTP server on 127.0.0.1 that maps the harness's routes onto a real
``posthog_client.Client`` sending over HTTP to the harness's mock server; nothing in the SDK is
stubbed. Requests the SDK makes are observed by wrapping ``requests.Session.post``, the one call
the HTTP backend makes, for ``GET /state``.

Routes live in ``ROUTES`` and capabilities in ``CAPABILITIES``: supporting another suite later
(``capture_v1``) means adding its capability and its handler, nothing else. The
``feature_flags`` suite needs no capability, only ``POST /get_feature_flag``.

    python tests/compliance/adapter.py [--port PORT] [--port-file FILE]

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

import requests

import posthog_client
from posthog_client import Client

ADAPTER_VERSION = "1.0.0"
CAPABILITIES = ["capture_v0", "encoding_gzip"]
FLUSH_TIMEOUT_S = 60.0  # /flush blocks until the queue is empty or sending pauses
_UUID = re.compile(rb'"uuid":"([^"]+)"')


class SDKState:
    """One SDK instance and what the harness may ask about it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.client: Client | None = None
        self.captured = 0
        self.requests_made: list[dict[str, Any]] = []
        self.last_error: str | None = None

    def start(self, config: dict[str, Any]) -> None:
        self.stop()
        options: dict[str, Any] = {"host": config["host"], "mode": "server"}
        if "flush_at" in config:
            options["flush_at"] = int(config["flush_at"])
            options["max_queue_size"] = max(options["flush_at"], 10_000)
        if "flush_interval_ms" in config:
            options["flush_interval_s"] = max(int(config["flush_interval_ms"]), 1) / 1000
        if "max_retries" in config:
            options["max_retries"] = int(config["max_retries"])
        if "enable_compression" in config:
            options["gzip"] = bool(config["enable_compression"])
        if "disable_geoip" in config:
            options["disable_geoip"] = bool(config["disable_geoip"])
        self.client = Client(config["api_key"], **options)

    def stop(self) -> None:
        """Drop the instance and whatever it still holds, and forget what it did."""
        client, self.client = self.client, None
        if client is not None:
            client.opt_out()  # the harness's reset clears pending events: none may leak out
            client.shutdown(0)
            for thread in threading.enumerate():  # a worker mid-request must not reach the
                if thread.name == "posthog_client.worker":  # next test's mock server
                    thread.join(5)
        with self.lock:
            self.captured = 0
            self.requests_made = []
            self.last_error = None

    def record(self, body: bytes, status: int | None, error: str | None) -> None:
        uuids = [u.decode() for u in _UUID.findall(body)]
        with self.lock:
            previous = self.requests_made[-1] if self.requests_made else None
            retry = 0
            if previous is not None and previous["uuid_list"] == uuids:
                retry = previous["retry_attempt"] + 1
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


STATE = SDKState()


def _observe_requests() -> None:
    """Wrap ``requests.Session.post`` so every request the SDK makes is recorded."""
    original = requests.Session.post

    def post(session: requests.Session, url: str, data: Any = None, **kwargs: Any) -> Any:
        import gzip

        body = data if isinstance(data, bytes) else b""
        plain = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        try:
            response = original(session, url, data=data, **kwargs)
        except requests.RequestException as exc:
            STATE.record(plain, None, f"{type(exc).__name__}: {exc}")
            raise
        STATE.record(plain, response.status_code, None)
        return response

    requests.Session.post = post  # type: ignore[assignment,method-assign]


# -- routes -----------------------------------------------------------------------------------

Handler = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def health(_: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 200, {
        "sdk_name": "posthog-client-python",
        "sdk_version": posthog_client.__version__,
        "adapter_version": ADAPTER_VERSION,
        "capabilities": CAPABILITIES,
        "supports_parallel": False,
    }


def init(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if not body.get("api_key") or not body.get("host"):
        return 400, {"error": "api_key and host are required"}
    STATE.start(body)
    return 200, {"success": True}


def capture(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    client = STATE.client
    if client is None:
        return 400, {"error": "SDK not initialized"}
    uuid = client.capture(
        body.get("event"),  # type: ignore[arg-type]  # the SDK itself must cope with bad input
        body.get("properties"),
        distinct_id=body.get("distinct_id"),
        timestamp=body.get("timestamp"),  # an ISO string, parsed by the SDK
        uuid=body.get("uuid"),
    )
    with STATE.lock:
        STATE.captured += uuid is not None
    return 200, {"success": uuid is not None, "uuid": uuid}


def flush(_: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    client = STATE.client
    if client is None:
        return 200, {"success": True, "events_flushed": 0}
    result = client.flush(FLUSH_TIMEOUT_S)
    return 200, {"success": True, "events_flushed": result.sent}


def state(_: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 200, STATE.snapshot()


def reset(_: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    STATE.stop()
    return 200, {"success": True}


# Arguments of Client.get_feature_flag the harness may send, under the same names.
_FLAG_ARGUMENTS = ("person_properties", "groups", "group_properties", "disable_geoip")


def get_feature_flag(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One flag through the real ``Client.get_feature_flag``: its ``/flags`` requests, their
    retries and its ``$feature_flag_called`` are the SDK's own. Always remote (the adapter sets
    no secret key), as the suite's ``force_remote`` asks."""
    client = STATE.client
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
        path = self.path.split("?", 1)[0]
        handler = ROUTES.get((method, path))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if handler is None:
            status, answer = 404, {"error": f"no route {method} {path}"}
        else:
            try:
                status, answer = handler(json.loads(raw) if raw else {})
            except Exception as exc:  # report it to the harness instead of dropping the socket
                status, answer = 500, {"error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    args = parser.parse_args()
    _observe_requests()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _RequestHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    if args.port_file is not None:
        args.port_file.write_text(url)
    print(f"adapter listening on {url}", flush=True)
    try:
        server.serve_forever()
    finally:
        STATE.stop()


if __name__ == "__main__":
    main()
