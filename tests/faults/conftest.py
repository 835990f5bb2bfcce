"""Shared pieces of the fault suite: a scriptable PostHog sink, clients aimed at it, dead owners'
queue files, and a check of what PostHog's capture would accept.

Tests that take the ``transport`` fixture run once per transport of the one pipeline: PostHog's
capture v0 (``/batch/``) and v1, and Mixpanel's ``/import`` (``transport_options``,
``http_backend``); tests of PostHog's own answers take ``capture_api`` (v0 and v1)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from loopback_sink import LoopbackSink

from posthog_client import Client
from posthog_client._delivery.backend import Backend
from posthog_client._delivery.capture_v1 import CaptureV1Backend
from posthog_client._delivery.http import HttpBackend
from posthog_client._delivery.mixpanel import MixpanelBackend
from posthog_client._mixpanel import MixpanelSettings

API_KEY = "phc_fault_suite_key"
MIXPANEL_TOKEN = "mp_fault_suite_token"
TRANSPORTS = ("v0", "v1", "mixpanel")
MAX_DEPTH = 128  # serde_json's recursion limit in PostHog's capture service


@pytest.fixture
def sink() -> Iterator[LoopbackSink]:
    with LoopbackSink() as running:
        yield running


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Each transport of the pipeline in turn."""
    name: str = request.param
    return name


@pytest.fixture(params=("v0", "v1"))
def capture_api(request: pytest.FixtureRequest) -> str:
    """Each of PostHog's capture APIs in turn."""
    name: str = request.param
    return name


def transport_options(transport: str) -> dict[str, Any]:
    """The ``Client`` options that pick ``transport``."""
    if transport == "mixpanel":
        return {"mixpanel_token": MIXPANEL_TOKEN}
    return {"capture_api": transport}


def http_backend(transport: str, url: str, **options: Any) -> Backend:
    """The HTTP backend of ``transport``, aimed at ``url``, as ``build_delivery`` makes it."""
    if transport == "mixpanel":
        return MixpanelBackend(MixpanelSettings(MIXPANEL_TOKEN), url, **options)
    backend = CaptureV1Backend if transport == "v1" else HttpBackend
    return backend(API_KEY, url, **options)


def sent_uuid(i: int) -> str:
    """The uuid of ``line(i)`` and ``encoded(i)``."""
    return str(uuid.UUID(int=i + 1))


def line(i: int) -> bytes:
    """A queued event with the uuid ``sent_uuid(i)``, as every transport sends it."""
    return (
        b'{"event":"e","distinct_id":"u","uuid":"%s","properties":{},'
        b'"timestamp":"2026-01-01T00:00:00.000000+00:00"}' % sent_uuid(i).encode()
    )


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="posthog_client")
    return caplog


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


MakeApp = Callable[..., Client]


@pytest.fixture
def make_app(tmp_path: Path, sink: LoopbackSink) -> Iterator[MakeApp]:
    """Clients aimed at ``sink`` (or ``host=``) sharing one storage dir; only flush sends."""
    made: list[Client] = []

    def make(**options: Any) -> Client:
        options.setdefault("host", sink.url)
        options.setdefault("storage_dir", tmp_path / "storage")
        options.setdefault("flush_interval_s", 60.0)
        options.setdefault("flush_at", 10_000)
        options.setdefault("max_queue_size", 10_000)
        client = Client(API_KEY, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown(0)


def queue_dir(client: Client) -> Path:
    return client.options.project_dir / "queue"


def encoded(i: int, name: str = "left") -> bytes:
    message = {
        "event": name,
        "distinct_id": "someone",
        "uuid": sent_uuid(i),
        "timestamp": "2026-01-01T00:00:00.000000+00:00",
        "properties": {"i": i},
    }
    return json.dumps(message, separators=(",", ":")).encode()


def dead_owner(directory: Path, lines: Sequence[bytes], *, owner: str = "") -> str:
    """Queue files as a process that died would leave them (no lock held); returns the owner."""
    owner = owner or f"{1:016x}-4242-dead00"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{owner}.00000000.seg").write_bytes(b"".join(line + b"\n" for line in lines))
    return owner


def posthog_refusal(line: bytes) -> str | None:
    """Why PostHog's capture would refuse this event (and its whole batch), or None."""
    try:
        event = json.loads(line.decode("utf-8"))  # strict: lone surrogates are refused
    except ValueError as exc:
        return f"not UTF-8 JSON: {exc}"
    if not isinstance(event, dict):
        return "not an object"
    if not isinstance(event.get("event"), str) or not event["event"]:
        return "no event name"
    distinct_id = event.get("distinct_id")
    if distinct_id is None or distinct_id == "" or not str(distinct_id).strip():
        return "no distinct id"
    if not isinstance(event.get("properties"), dict):
        return "properties is not an object"
    try:
        stamp = dt.datetime.fromisoformat(str(event.get("timestamp")).replace("Z", "+00:00"))
    except ValueError:
        return "invalid timestamp"
    if stamp.utcoffset() != dt.timedelta(0):
        return "timestamp not in UTC"
    try:
        uuid.UUID(str(event.get("uuid")))
    except ValueError:
        return "invalid uuid"
    if _depth(event) > MAX_DEPTH:
        return "nested too deep"
    if len(line) > 1_000_000:
        return "too big"
    return None


def _depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        nxt: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                nxt.extend(item.values())
            elif isinstance(item, list):
                nxt.extend(item)
        level = [v for v in nxt if isinstance(v, dict | list)]
    return depth


class RawBackend:
    """Keeps the bytes of every delivered event, exactly as they would go on the wire."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def send(self, batch: Sequence[bytes]) -> None:
        self.lines.extend(batch)

    def close(self) -> None:
        """Nothing to release."""
