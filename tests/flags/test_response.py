"""The reference server's ``/flags`` answer (flags-spec F6–F8, E3, E8, E9)."""

from __future__ import annotations

import json
from typing import Any

from posthog_client._flags import (
    build_flags_response,
    legacy_response,
    parse_definitions,
    parse_flags_request,
    person_properties_for,
)

DEFS = parse_definitions(
    {
        "flags": [
            {"id": 1, "key": "pro", "version": 4, "has_experiment": True, "filters": {
                "groups": [{"properties": [{"key": "plan", "value": "pro", "type": "person"}]}],
                "payloads": {"true": "{\"limit\": 10}"}}},
            {"id": 2, "key": "off", "active": False},
            {"id": 3, "key": "server-only", "evaluation_runtime": "server"},
            {"id": 4, "key": "needs-pro", "filters": {"groups": [{"properties": [
                {"key": "pro", "type": "flag", "value": True, "operator": "flag_evaluates_to"}]}]}},
            {"id": 5, "key": "static", "filters": {"groups": [{"properties": [
                {"key": "id", "type": "cohort", "value": 99}]}]}},
            {"id": 6, "key": "big-company", "filters": {"aggregation_group_type_index": 0,
                "groups": [{"properties": [{"key": "size", "value": 100, "operator": "gte",
                                            "type": "group", "group_type_index": 0}]}]}},
            {"id": 7, "key": "chrome-first", "filters": {"groups": [{"properties": [
                {"key": "$initial_browser", "value": "Chrome", "type": "person"}]}]}},
        ],
        "group_type_mapping": {"0": "company"},
    },
    strict=True,
)  # fmt: skip


def respond(body: dict[str, Any], **options: Any) -> dict[str, Any]:
    options.setdefault("request_id", "req-1")
    options.setdefault("evaluated_at_ms", 1_700_000_000_000)
    return build_flags_response(DEFS, parse_flags_request(body), **options)


def test_v2_shape() -> None:
    response = respond({"distinct_id": "u1"}, stored_person={"plan": "pro"},
                       cohort_memberships={99: True}, runtime="server")  # fmt: skip
    assert response["flags"]["pro"] == {
        "key": "pro",
        "enabled": True,
        "variant": None,
        "reason": {"code": "condition_match", "condition_index": 0,
                   "description": "Matched condition set 1"},
        "metadata": {"id": 1, "version": 4, "description": None, "payload": '{"limit": 10}',
                     "has_experiment": True},
    }  # fmt: skip
    assert set(response["flags"]) == {
        "pro", "server-only", "needs-pro", "static", "big-company", "chrome-first",
    }  # fmt: skip  # "off" is inactive: absent
    assert response["flags"]["needs-pro"]["enabled"] is True
    assert (response["errorsWhileComputingFlags"], response["requestId"]) == (False, "req-1")
    assert response["evaluatedAt"] == 1_700_000_000_000
    json.dumps(response)  # serialisable as is


def test_request_overrides_win_and_runtime_filters() -> None:
    response = respond({"distinct_id": "u1", "person_properties": {"plan": "free"}},
                       stored_person={"plan": "pro"})  # fmt: skip
    assert response["flags"]["pro"]["enabled"] is False
    assert response["flags"]["pro"]["metadata"]["payload"] is None
    assert "server-only" not in response["flags"]  # undetected runtime


def test_a_failed_flag_sets_errors_while_computing_flags() -> None:
    response = respond({"distinct_id": "u1"})
    static = response["flags"]["static"]
    assert (static["enabled"], static["failed"], static["reason"]["code"]) == (
        False, True, "dependency_not_found",
    )  # fmt: skip
    assert static["metadata"]["payload"] is None
    assert response["errorsWhileComputingFlags"] is True


def test_flag_keys_bring_their_dependencies() -> None:
    response = respond({"distinct_id": "u1", "flag_keys": ["needs-pro"]},
                       stored_person={"plan": "pro"})  # fmt: skip
    assert set(response["flags"]) == {"needs-pro", "pro"}
    assert respond({"distinct_id": "u1", "flag_keys": []})["flags"] == {}


def test_groups_read_stored_group_properties_with_overrides_on_top() -> None:
    stored = {("company", "acme"): {"size": 500}, ("company", "7"): {"size": 5}}

    def stored_group(group_type: str, key: str) -> dict[str, Any] | None:
        return stored.get((group_type, key))

    def big(body: dict[str, Any]) -> bool:
        return respond(body, stored_group=stored_group)["flags"]["big-company"]["enabled"]

    assert big({"distinct_id": "u", "groups": {"company": "acme"}}) is True
    assert big({"distinct_id": "u", "groups": {"company": 7}}) is False
    assert big({"distinct_id": "u", "groups": {"company": 7},
                "group_properties": {"company": {"size": 1000}}}) is True  # fmt: skip
    reason = respond({"distinct_id": "u"})["flags"]["big-company"]["reason"]["code"]
    assert reason == "no_group_type"


def test_person_properties_merge() -> None:
    merged = person_properties_for("u1", {"$browser": "Chrome", "distinct_id": "old"}, {"a": 1})
    assert merged == {"$browser": "Chrome", "$initial_browser": "Chrome", "distinct_id": "u1",
                      "a": 1}  # fmt: skip
    kept = person_properties_for("u1", {"$browser": "Chrome", "$initial_browser": "Safari"}, None)
    assert kept["$initial_browser"] == "Safari"
    assert respond({"distinct_id": "u", "person_properties": {"$browser": "Chrome"}})["flags"][
        "chrome-first"
    ]["enabled"]


def test_disabled_flags_and_quota_limits() -> None:
    assert respond({"distinct_id": "u", "disable_flags": True})["flags"] == {}
    limited = respond({"distinct_id": "u"}, quota_limited=True)
    assert (limited["flags"], limited["quotaLimited"]) == ({}, ["feature_flags"])
    assert limited["errorsWhileComputingFlags"] is False


def test_experience_continuity_uses_the_stored_hash_key() -> None:
    defs = parse_definitions([{"key": "simple-flag", "ensure_experience_continuity": True,
                               "filters": {"groups": [{"rollout_percentage": 45}]}}])  # fmt: skip
    request = parse_flags_request({"distinct_id": "distinct_id_0"})
    flags = build_flags_response(defs, request)["flags"]
    assert flags["simple-flag"]["enabled"] is False  # T1
    stored = build_flags_response(
        defs, request, hash_key_overrides={"simple-flag": "distinct_id_1"}
    )
    assert stored["flags"]["simple-flag"]["enabled"] is True  # T2


def test_legacy_shape() -> None:
    v2 = respond(
        {"distinct_id": "u1"}, stored_person={"plan": "pro"}, cohort_memberships={99: False}
    )
    legacy = legacy_response(v2)
    assert legacy["featureFlags"]["pro"] is True
    assert legacy["featureFlags"]["static"] is False
    assert legacy["featureFlagPayloads"] == {"pro": '{"limit": 10}'}
    assert (legacy["requestId"], legacy["errorsWhileComputingFlags"]) == ("req-1", False)
    assert "flags" not in legacy
