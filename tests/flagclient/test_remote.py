"""Backends: flags of any user, one /flags request per call, reported once per user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import posthog_client
from posthog_client import Client, InvalidDistinctIdError, RejectedError
from posthog_client._flagclient.reporting import CallDedup

from .conftest import FlagsBackend, v2

MakeClient = Callable[..., Client]
Sent = Callable[[Client], list[dict[str, Any]]]


@pytest.fixture
def server(make_client: MakeClient, backend: FlagsBackend) -> Client:
    backend.answer = v2({"beta": "blue"})
    return make_client(mode="server")


def flag_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "$feature_flag_called"]


def test_each_call_asks_for_that_flag_of_that_user(server: Client, backend: FlagsBackend) -> None:
    assert server.get_feature_flag("beta", distinct_id="u1") == "blue"
    assert server.feature_enabled("beta", distinct_id="u1") is True
    first, second = backend.bodies  # no result cache (SR2)
    assert first == second
    assert first == {
        "token": "phc_test_key",
        "distinct_id": "u1",
        "groups": {},
        "person_properties": {},
        "group_properties": {},
        "geoip_disable": False,  # D8: server mode's implied disable_geoip is for its events
        "evaluation_runtime": "server",
        "flag_keys_to_evaluate": ["beta"],
    }


def test_what_the_call_passes_goes_into_the_request(server: Client, backend: FlagsBackend) -> None:
    server.get_feature_flag(
        "beta",
        distinct_id="u1",
        groups={"company": "acme"},
        person_properties={"plan": "pro"},
        group_properties={"company": {"size": 10}},
        device_id="d1",
        disable_geoip=True,
    )
    body = backend.bodies[0]
    assert body["groups"] == {"company": "acme"} and body["person_properties"] == {"plan": "pro"}
    assert body["group_properties"] == {"company": {"size": 10}} and body["device_id"] == "d1"
    assert body["geoip_disable"] is True


def test_the_event_is_sent_once_per_user_value_and_groups(
    server: Client, backend: FlagsBackend, sent: Sent
) -> None:
    for _ in range(3):
        server.get_feature_flag("beta", distinct_id="u1")
    server.get_feature_flag("beta", distinct_id="u2")
    server.get_feature_flag("beta", distinct_id="u1", groups={"company": "acme"})
    server.get_feature_flag("beta", distinct_id="u3", send_event=False)
    events = flag_events(sent(server))
    assert [(e["distinct_id"], e["properties"].get("$groups")) for e in events] == [
        ("u1", None),
        ("u2", None),
        ("u1", {"company": "acme"}),
    ]
    props = events[0]["properties"]
    assert props["$feature_flag"] == "beta" and props["$feature_flag_response"] == "blue"
    assert props["$feature/beta"] == "blue" and props["locally_evaluated"] is False
    assert props["$feature_flag_request_id"] == "req-1" and props["$feature_flag_id"] == 1


def test_a_context_gives_its_user_and_groups(
    server: Client, backend: FlagsBackend, sent: Sent
) -> None:
    posthog_client._default.client = server
    with posthog_client.new_context():
        posthog_client.identify_context("ctx_user")
        posthog_client.group("company", 42)
        assert posthog_client.get_feature_flag("beta") == "blue"
        posthog_client.capture("in_request")
    assert backend.bodies[0]["distinct_id"] == "ctx_user"
    assert backend.bodies[0]["groups"] == {"company": "42"}
    (event,) = [e for e in sent(server) if e["event"] == "in_request"]
    assert event["properties"]["$groups"] == {"company": "42"}


def test_without_a_user_nothing_is_asked(
    make_client: MakeClient, server: Client, backend: FlagsBackend, caplog: pytest.LogCaptureFixture
) -> None:
    assert server.get_feature_flag("beta") is None
    assert server.get_all_flags() == {}
    assert backend.bodies == [] and "flags need a user" in caplog.text
    with pytest.raises(InvalidDistinctIdError):
        make_client(mode="server", strict=True).get_feature_flag("beta")


def test_a_failed_request_is_none_and_the_event_names_the_error(
    server: Client, backend: FlagsBackend, sent: Sent
) -> None:
    backend.error = RejectedError("nope", status_code=500)
    assert server.get_feature_flag("beta", distinct_id="u1") is None
    backend.error = None
    assert server.get_feature_flag("missing", distinct_id="u1") is None
    errors = [e["properties"]["$feature_flag_error"] for e in flag_events(sent(server))]
    assert errors == ["api_error_500", "flag_missing"]


def test_all_flags_take_one_request_and_send_no_event(
    server: Client, backend: FlagsBackend, sent: Sent
) -> None:
    backend.answer = v2({"a": True, "b": "x", "c": False})
    assert server.get_all_flags(distinct_id="u1") == {"a": True, "b": "x", "c": False}
    assert "flag_keys_to_evaluate" not in backend.bodies[0]
    assert flag_events(sent(server)) == []


def test_capture_can_add_the_users_flags_and_groups(
    server: Client, backend: FlagsBackend, sent: Sent
) -> None:
    backend.answer = v2({"a": True, "c": False})
    server.capture("paid", {"$feature/a": "mine"}, distinct_id="u1", send_feature_flags=True)
    server.capture("grouped", distinct_id="u1", groups={"company": 7})
    paid, grouped = (e for e in sent(server) if e["event"] in ("paid", "grouped"))
    assert paid["properties"]["$feature/a"] == "mine" and paid["properties"]["$feature/c"] is False
    assert paid["properties"]["$active_feature_flags"] == ["a"]
    assert grouped["properties"]["$groups"] == {"company": "7"}
    assert len(backend.bodies) == 1 and flag_events(sent(server)) == []


def test_overrides_apply_to_any_user(server: Client, backend: FlagsBackend, sent: Sent) -> None:
    server.override_feature_flags({"beta": False})
    assert server.get_feature_flag("beta", distinct_id="u1") is False
    (event,) = flag_events(sent(server))
    assert event["properties"]["$feature_flag_original_response"] == "blue"


def test_a_desktop_app_asks_for_another_user_as_a_client(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    backend.answer = v2({"beta": True})
    assert make_client().get_feature_flag("beta", distinct_id="someone") is True
    assert backend.bodies[0]["evaluation_runtime"] == "client"
    assert backend.bodies[0]["distinct_id"] == "someone"


def test_the_dedup_of_a_busy_backend_stays_bounded() -> None:
    dedup = CallDedup(max_users=100)
    for user in range(1000):
        dedup.first(f"u{user}", "f", True, {})
    assert len(dedup._seen) == 100
