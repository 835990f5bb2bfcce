"""The official posthog-python SDK pointed at the local server: persons resolve as on PostHog."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import posthog
import pytest

from posthog_client.server import LocalServer

from . import KEY, get_json


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to resolve or reach a host other than this machine."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        assert host in ("127.0.0.1", "localhost", "::1"), f"lookup of {host!r}"
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            assert ipaddress.ip_address(address[0]).is_loopback, f"connection to {address!r}"
        real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def sdk(server: LocalServer, loopback_only: None) -> Iterator[posthog.Posthog]:
    client = posthog.Posthog(KEY, host=server.url, sync_mode=True, gzip=True)
    yield client
    client.shutdown()


def person(server: LocalServer, distinct_id: str) -> dict[str, Any]:
    status, body = get_json(server.url, f"/api/persons?distinct_id={distinct_id}")
    assert status == 200, body
    return dict(body)


def history(server: LocalServer, distinct_id: str) -> list[str]:
    status, body = get_json(server.url, f"/api/events?distinct_id={distinct_id}")
    assert status == 200
    return [event["event"] for event in body["results"]]


def test_official_sdk_story_resolves_persons(server: LocalServer, sdk: posthog.Posthog) -> None:
    sdk.capture("app_opened", distinct_id="device-1", properties={"$current_url": "app://home"})
    sdk.capture("file_opened", distinct_id="device-1", properties={"size_kb": 12})
    # posthog-python has no identify(): a client SDK's $identify is an ordinary capture
    sdk.capture(
        "$identify",
        distinct_id="user-42",
        properties={"$anon_distinct_id": "device-1", "$set": {"email": "ada@example.com"}},
    )
    sdk.alias(previous_id="user-42", distinct_id="backend-42")  # user-42 survives (W6)
    sdk.set(distinct_id="backend-42", properties={"plan": "pro"})
    sdk.capture("logged_out", distinct_id="user-42")
    # after reset() the device gets a new anonymous id, and a second user signs in
    sdk.capture("app_opened", distinct_id="device-1b")
    sdk.capture("$identify", distinct_id="user-7", properties={"$anon_distinct_id": "device-1b"})
    sdk.flush()

    ada = person(server, "device-1")
    assert ada == person(server, "user-42") == person(server, "backend-42")
    assert ada["distinct_ids"] == ["device-1", "user-42", "backend-42"]
    assert ada["is_identified"] is True
    assert ada["properties"]["email"] == "ada@example.com"
    assert ada["properties"]["plan"] == "pro"
    assert ada["properties"]["$initial_current_url"] == "app://home"
    assert history(server, "device-1") == [
        "logged_out",
        "$set",
        "$create_alias",
        "$identify",
        "file_opened",
        "app_opened",
    ]

    second = person(server, "device-1b")
    assert second["uuid"] != ada["uuid"]
    assert second["distinct_ids"] == ["device-1b", "user-7"]
    assert history(server, "user-7") == ["$identify", "app_opened"]
    assert server.engine.warnings() == []


def test_official_sdk_identify_of_identified_user_is_refused(
    server: LocalServer, sdk: posthog.Posthog
) -> None:
    sdk.capture("$identify", distinct_id="alice", properties={"$anon_distinct_id": "device-a"})
    sdk.capture("$pageview", distinct_id="bob")
    sdk.alias(previous_id="bob", distinct_id="alice")  # alice is identified: refused (S10)
    sdk.flush()
    assert person(server, "alice")["uuid"] != person(server, "bob")["uuid"]
    assert [w.type for w in server.engine.warnings()] == ["cannot_merge_already_identified"]


GROUP_FLAG = {
    "id": 9,
    "key": "enterprise",
    "active": True,
    "filters": {
        "aggregation_group_type_index": 0,
        "groups": [
            {"properties": [{"key": "plan", "value": "enterprise", "type": "group",
                             "group_type_index": 0}],
             "rollout_percentage": 100}
        ],
    },
}  # fmt: skip
DEFINITIONS = {
    "flags": [
        GROUP_FLAG,
        {"id": 10, "key": "half", "active": True,
         "filters": {"groups": [{"properties": [], "rollout_percentage": 50}],
                     "payloads": {"true": '{"color": "red"}'}}},
    ],
    "group_type_mapping": {"0": "company"},
}  # fmt: skip


def test_official_sdk_flags_agree_remotely_and_locally_with_the_server(
    loopback_only: None,
) -> None:
    with LocalServer(KEY, flags=DEFINITIONS, personal_api_key="phx_official") as server:
        remote = posthog.Posthog(KEY, host=server.url, sync_mode=True)
        local = posthog.Posthog(KEY, host=server.url, sync_mode=True, secret_key="phx_official")
        try:
            users = [f"user-{n}" for n in range(40)]
            from_remote = [remote.evaluate_flags(u).is_enabled("half") for u in users]
            from_local = [
                local.evaluate_flags(u, only_evaluate_locally=True).is_enabled("half")
                for u in users
            ]
            assert from_remote == from_local and True in from_remote and False in from_remote
            groups, props = {"company": "acme"}, {"company": {"plan": "enterprise"}}
            for sdk, only_local in ((remote, False), (local, True)):
                flags = sdk.evaluate_flags(
                    "u", groups=groups, group_properties=props, only_evaluate_locally=only_local
                )
                assert flags.is_enabled("enterprise")
            enabled = users[from_remote.index(True)]
            assert remote.evaluate_flags(enabled).get_flag_payload("half") == {"color": "red"}
        finally:
            remote.shutdown()
            local.shutdown()
