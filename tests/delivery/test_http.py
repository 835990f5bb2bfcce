"""The PostHog HTTP backend: body, gzip, status mapping, Retry-After, requests error mapping."""

from __future__ import annotations

import datetime as dt
import gzip
import inspect
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
import responses
from delivery_support import API_KEY, event
from loopback_sink import Blackhole, LoopbackSink

from posthog_client._delivery.http import PROBE_TIMEOUT_S, HttpBackend, map_requests_exceptions
from posthog_client._exceptions import (
    PayloadTooLargeError,
    RejectedError,
    RetryableTransportError,
    TransportError,
)

HOST = "https://ingest.example"


@pytest.fixture
def backend() -> Iterator[HttpBackend]:
    http = HttpBackend(API_KEY, HOST + "/", gzip=False, timeout_s=2)
    yield http
    http.close()


@pytest.fixture
def sink() -> Iterator[LoopbackSink]:
    with LoopbackSink() as running:
        yield running


def test_body_splices_the_encoded_events_verbatim(backend: HttpBackend) -> None:
    batch = [event(1), event(2, text="é\u2028")]
    body = backend.body(batch)
    assert b",".join(batch) in body
    payload = json.loads(body)
    assert payload["api_key"] == API_KEY
    assert payload["batch"] == [json.loads(item) for item in batch]
    sent_at = dt.datetime.fromisoformat(payload["sent_at"])
    assert abs((dt.datetime.now(dt.timezone.utc) - sent_at).total_seconds()) < 5
    assert backend.url == HOST + "/batch/"


def test_historical_migration_marks_the_batch_body() -> None:
    body = HttpBackend(API_KEY, HOST, historical_migration=True).body([event()])
    assert json.loads(body)["historical_migration"] is True
    assert b"historical_migration" not in HttpBackend(API_KEY, HOST).body([event()])


@responses.activate
@pytest.mark.parametrize("status", [200, 204])
def test_2xx_is_success(backend: HttpBackend, status: int) -> None:
    responses.post(HOST + "/batch/", status=status)
    backend.send([event()])
    assert responses.calls[0].request.headers["Content-Type"] == "application/json"


@responses.activate
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_408_429_and_5xx_are_retryable(backend: HttpBackend, status: int) -> None:
    responses.post(HOST + "/batch/", status=status, headers={"Retry-After": "3"})
    with pytest.raises(RetryableTransportError) as caught:
        backend.send([event()])
    assert caught.value.status_code == status
    assert caught.value.retry_after_s == 3.0


@responses.activate
def test_413_asks_for_a_split(backend: HttpBackend) -> None:
    responses.post(HOST + "/batch/", status=413)
    with pytest.raises(PayloadTooLargeError):
        backend.send([event()])


@responses.activate
@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_other_statuses_are_final(backend: HttpBackend, status: int) -> None:
    responses.post(HOST + "/batch/", status=status, json={"code": "invalid"})
    with pytest.raises(RejectedError) as caught:
        backend.send([event()])
    assert caught.value.status_code == status
    assert not isinstance(caught.value, PayloadTooLargeError)


def requests_exception_classes() -> list[type[requests.RequestException]]:
    return [
        cls
        for _, cls in inspect.getmembers(requests.exceptions, inspect.isclass)
        if issubclass(cls, requests.RequestException)
    ]


@pytest.mark.parametrize("cls", requests_exception_classes(), ids=lambda c: c.__name__)
def test_every_requests_exception_is_mapped(cls: type[requests.RequestException]) -> None:
    error = cls("boom", "{", 0) if issubclass(cls, ValueError) else cls("boom")  # JSONDecodeError
    with pytest.raises(RetryableTransportError) as caught, map_requests_exceptions():
        raise error
    assert caught.value.__cause__ is not None


def test_socket_errors_escaping_requests_are_mapped_too() -> None:
    with pytest.raises(TransportError), map_requests_exceptions():
        raise ConnectionResetError("reset by peer")


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = HttpBackend(API_KEY, f"http://127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(RetryableTransportError):
        http.send([event()])
    http.close()


def test_a_hung_server_times_out_as_retryable(sink: LoopbackSink) -> None:
    sink.hang()
    http = HttpBackend(API_KEY, sink.url, timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(RetryableTransportError):
        http.send([event()])
    assert time.monotonic() - started < 2
    http.close()


def test_gzip_bodies_on_the_wire(sink: LoopbackSink) -> None:
    zipped = HttpBackend(API_KEY, sink.url, gzip=True)
    plain = HttpBackend(API_KEY, sink.url, gzip=False)
    big = [event(i, pad="x" * 300) for i in range(20)]
    zipped.send(big)
    zipped.send([event(99)])  # however small: the compliance harness expects gzip when on
    plain.send(big)
    zipped.close()
    plain.close()
    first, small, unzipped = sink.requests
    assert first["gzip"] and first["headers"]["Content-Encoding"] == "gzip"
    assert small["gzip"] and small["headers"]["Content-Encoding"] == "gzip"
    assert not unzipped["gzip"]
    assert first["payload"]["batch"] == unzipped["payload"]["batch"] == [json.loads(e) for e in big]
    assert first["headers"]["User-Agent"].startswith("posthog-client-python/")


def test_proxy_and_ca_settings_come_from_the_environment_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/custom.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    http = HttpBackend(API_KEY, HOST)
    session = http._get_session()
    assert session.proxies["https"] == "http://proxy.invalid:3128"
    assert session.verify == "/etc/ssl/custom.pem"
    assert not session.trust_env  # so requests does not re-read them on every batch
    http.close()
    monkeypatch.setenv("NO_PROXY", "ingest.example")
    bypass = HttpBackend(API_KEY, HOST)
    assert "https" not in bypass._get_session().proxies
    bypass.close()


def test_gzip_output_is_a_standard_gzip_stream() -> None:
    http = HttpBackend(API_KEY, HOST, gzip=True)
    body = http.body([event(i) for i in range(50)])
    from posthog_client._delivery.http import gzip_body

    assert gzip.decompress(gzip_body(body)) == body


def test_a_forked_child_gets_its_own_session(sink: LoopbackSink) -> None:
    http = HttpBackend(API_KEY, sink.url)
    http.send([event(1)])
    parent_session = http._session
    http._pid = -1  # as seen from a forked child
    http.send([event(2)])
    assert http._session is not parent_session
    assert parent_session is not None
    parent_session.close()
    http.close()


def test_importing_the_package_loads_no_http_or_retry_library() -> None:
    code = (
        "import sys, posthog_client, posthog_client._delivery.build;"
        "print(sorted(m for m in ('requests', 'tenacity', 'filelock', 'urllib3')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"


_PROBE = """
import sys
from posthog_client._exceptions import RetryableTransportError
from posthog_client._delivery.http import HttpBackend
backend = HttpBackend("phc_x", sys.argv[1])
try:
    backend.send([b'{"event":"x"}'])
except RetryableTransportError as exc:
    print("retryable", "requests" in sys.modules, exc)
"""


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="probe off: system proxies")
def test_an_unreachable_host_fails_fast_without_loading_requests() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, _closed_port_url()],
        capture_output=True, text=True, timeout=30, check=True, env=env,
    )  # fmt: skip
    assert done.stdout.startswith("retryable False cannot reach 127.0.0.1"), done.stdout


_DROPPED = """
import sys, time
from posthog_client._exceptions import RetryableTransportError
from posthog_client._delivery.http import HttpBackend
backend = HttpBackend("phc_x", sys.argv[1], timeout_s=0.5)
for _ in range(2):
    started = time.monotonic()
    try:
        backend.send([b'{"event":"x"}'])
    except RetryableTransportError as exc:
        print(round(time.monotonic() - started, 2), "requests" in sys.modules)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the blackhole needs Linux's SYN drops")
def test_dropped_packets_fail_the_first_attempt_within_the_probe_timeout() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    with Blackhole() as hole:
        done = subprocess.run(
            [sys.executable, "-c", _DROPPED, hole.url],
            capture_output=True, text=True, timeout=30, check=True, env=env,
        )  # fmt: skip
    (first, first_loaded), (second, second_loaded) = (
        (float(t), loaded == "True")
        for t, loaded in (line.split() for line in done.stdout.splitlines())
    )
    assert PROBE_TIMEOUT_S <= first < 0.45 and not first_loaded  # the probe alone
    assert second >= 0.5 and second_loaded  # then the HTTP stack, with the full timeout


def test_the_reachability_probe_is_skipped_behind_a_proxy() -> None:
    url = _closed_port_url()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path), "HTTPS_PROXY": url}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, url],
        capture_output=True, text=True, timeout=30, check=True, env=env,
    )  # fmt: skip
    assert done.stdout.startswith("retryable True ConnectionError"), done.stdout
