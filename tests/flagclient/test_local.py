"""Local evaluation in backends: definitions polled from the local server with the secret
key, decided by the same engine as its /flags, and /flags when they cannot decide."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posthog_client import Client
from posthog_client._flagclient.transport import FlagsTransport
from posthog_client.server import LocalServer

KEY, PERSONAL = "phc_local_eval", "phx_local_eval"
DEFINITIONS = {
    "flags": [
        {"id": 1, "key": "everyone", "active": True,
         "filters": {"groups": [{"properties": [], "rollout_percentage": 100}],
                     "payloads": {"true": '{"limit": 3}'}}},
        {"id": 2, "key": "pro-only", "active": True,
         "filters": {"groups": [{"properties": [
             {"key": "plan", "value": "pro", "operator": "exact", "type": "person"}],
             "rollout_percentage": 100}]}},
    ]
}  # fmt: skip


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(KEY, personal_api_key=PERSONAL, flags=DEFINITIONS) as server:
        yield server


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every /flags body the SDK sends (definitions polls are not /flags requests)."""
    bodies: list[dict[str, Any]] = []
    real = FlagsTransport.flags

    def flags(self: FlagsTransport, body: dict[str, Any]) -> Any:
        bodies.append(body)
        return real(self, body)

    monkeypatch.setattr(FlagsTransport, "flags", flags)
    return bodies


class EventsOnly:
    """Keeps events; flags go to the server over HTTP (a backend without ``flags``)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def send(self, batch: list[bytes]) -> None:
        self.events.extend(json.loads(line) for line in batch)

    def close(self) -> None:
        pass


def backend_client(server: LocalServer, tmp_path: Path, **options: Any) -> Client:
    options.setdefault("secret_key", PERSONAL)
    return Client(
        KEY,
        host=server.url,
        mode="server",
        backend=EventsOnly(),
        storage_dir=tmp_path,
        **options,
    )


def test_flags_the_definitions_decide_need_no_request(
    server: LocalServer, tmp_path: Path, asked: list[dict[str, Any]]
) -> None:
    client = backend_client(server, tmp_path)
    assert client.feature_enabled("everyone", distinct_id="u1") is True
    assert (
        client.get_feature_flag("pro-only", distinct_id="u1", person_properties={"plan": "free"})
        is False
    )
    assert client.get_feature_flag_payload("everyone", distinct_id="u1") == {"limit": 3}
    assert asked == []
    client.flush(5)
    events = [e for e in client.options.backend.events if e["event"] == "$feature_flag_called"]  # type: ignore[union-attr]
    assert all(e["properties"]["locally_evaluated"] is True for e in events) and len(events) == 2
    client.shutdown(0)


def test_what_the_definitions_cannot_decide_is_asked_of_flags(
    server: LocalServer, tmp_path: Path, asked: list[dict[str, Any]]
) -> None:
    server.engine.ingest(
        [{"event": "$set", "distinct_id": "u2", "properties": {"$set": {"plan": "pro"}}}]
    )
    client = backend_client(server, tmp_path)
    # plan is stored by the server, not passed: only /flags knows it
    assert client.get_feature_flag("pro-only", distinct_id="u2") is True
    assert [b["flag_keys_to_evaluate"] for b in asked] == [["pro-only"]]
    assert client.get_feature_flag("pro-only", distinct_id="u2", only_evaluate_locally=True) is None
    assert client.get_all_flags(distinct_id="u2") == {"everyone": True, "pro-only": True}
    assert len(asked) == 2
    client.shutdown(0)


def test_changed_definitions_arrive_at_the_next_poll(server: LocalServer, tmp_path: Path) -> None:
    client = backend_client(server, tmp_path)
    assert client.get_feature_flag("everyone", distinct_id="u1") is True
    server.set_flags({"everyone": False, "new": "v2"})
    assert client.wait_for_flags()  # server mode: poll the definitions now
    assert client.get_feature_flag("everyone", distinct_id="u1") is False
    assert client.get_feature_flag("new", distinct_id="u1") == "v2"
    client.shutdown(0)


def test_a_refused_key_falls_back_to_flags_requests(
    server: LocalServer, tmp_path: Path, asked: list[dict[str, Any]]
) -> None:
    client = backend_client(server, tmp_path, secret_key="phx_wrong")
    assert client.get_feature_flag("everyone", distinct_id="u1") is True
    assert len(asked) == 1 and not client.wait_for_flags()
    client.shutdown(0)


def test_remote_config_payloads_need_the_secret_key(server: LocalServer, tmp_path: Path) -> None:
    client = backend_client(server, tmp_path)
    assert client.get_remote_config_payload("everyone") == {"limit": 3}
    client.shutdown(0)
