"""Reading ``/flags`` bodies (flags-spec F2, F3) and the runtime filter (F12)."""

from __future__ import annotations

from typing import Any

import pytest

from posthog_client._flags import (
    FlagsRequest,
    detect_runtime,
    excluded_flags,
    parse_definitions,
    parse_flags_request,
)


def test_posthog_python_body() -> None:
    request = parse_flags_request({
        "api_key": "phc_x", "distinct_id": "u1", "groups": {"company": "acme"},
        "person_properties": {"plan": "pro"}, "group_properties": {"company": {"size": 5}},
        "geoip_disable": True, "device_id": "d1", "flag_keys_to_evaluate": ["a"],
        "sent_at": "2024-01-01",
    })  # fmt: skip
    assert request == FlagsRequest(
        distinct_id="u1", token="phc_x", device_id="d1", groups={"company": "acme"},
        person_properties={"plan": "pro"}, group_properties={"company": {"size": 5}},
        geoip_disable=True, flag_keys=("a",),
    )  # fmt: skip


def test_posthog_js_body_and_aliases() -> None:
    request = parse_flags_request({
        "token": "phc_x", "$distinct_id": 42, "$anon_distinct_id": "anon", "$device_id": "d",
        "$groups": {"team": 7}, "$properties": {"a": 1}, "$group_properties": {"team": 3},
        "flag_keys": ["a", 5], "disable_flags": True, "evaluation_runtime": "client",
        "evaluation_environments": ["web"],
    })  # fmt: skip
    assert (request.distinct_id, request.token, request.anon_distinct_id) == ("42", "phc_x", "anon")
    assert (request.device_id, request.groups, request.person_properties) == (
        "d", {"team": 7}, {"a": 1},
    )  # fmt: skip
    assert request.group_properties == {}  # not an object per type: ignored
    assert (request.flag_keys, request.disable_flags) == (("a",), True)
    assert (request.evaluation_runtime, request.evaluation_contexts) == ("client", ("web",))


def test_distinct_id_rules() -> None:
    assert parse_flags_request({"distinct_id": ""}).distinct_id == ""
    assert parse_flags_request({"distinct_id": "x" * 250}).distinct_id == "x" * 200
    assert parse_flags_request({"distinct_id": 1.5}).distinct_id == "1.5"
    for body in ({}, {"distinct_id": None}, {"distinct_id": True}, {"distinct_id": {}}, []):
        with pytest.raises(ValueError):
            parse_flags_request(body)


@pytest.mark.parametrize(
    ("explicit", "headers", "runtime"),
    [
        ("server", {"User-Agent": "Mozilla/5.0"}, "server"),
        ("CLIENT", {}, "client"),
        ("both", {}, "all"),
        (None, {"User-Agent": "Mozilla/5.0 (X11) Chrome/120"}, "client"),
        (None, {"user-agent": "posthog-python/7.0"}, "server"),
        (None, {"User-Agent": "python-requests/2.31"}, "server"),
        (None, {"User-Agent": "curl/8.0"}, "server"),
        (None, {"User-Agent": "posthog-android/3.0"}, "client"),
        (None, {"User-Agent": "posthog-client-python/0.1", "Origin": "https://x"}, "client"),
        (None, {"User-Agent": "posthog-client-python/0.1"}, None),  # hence D7: send it
        (None, {}, None),
    ],
)
def test_detect_runtime(explicit: str | None, headers: dict[str, str], runtime: str | None) -> None:
    assert detect_runtime(explicit, headers) == runtime


def test_excluded_flags() -> None:
    defs = parse_definitions([
        {"key": "any"}, {"key": "all", "evaluation_runtime": "all"},
        {"key": "server", "evaluation_runtime": "server"},
        {"key": "client", "evaluation_runtime": "client"},
        {"key": "odd", "evaluation_runtime": "edge"},
        {"key": "web", "evaluation_tags": ["web"]},
    ])  # fmt: skip
    both: Any = {"server", "client"}
    assert excluded_flags(defs, None, None) == both
    assert excluded_flags(defs, "server", None) == {"client"}
    assert excluded_flags(defs, "all", None) == set()
    assert excluded_flags(defs, "all", ["mobile"]) == {"web"}
    assert excluded_flags(defs, "all", ["web", "mobile"]) == set()
