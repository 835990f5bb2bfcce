"""$feature_flag_called properties, event flag properties, and the backends' bounded dedup."""

from __future__ import annotations

from posthog_client._flagclient.reporting import (
    CallDedup,
    answer_errors,
    event_flag_properties,
    flag_called_properties,
    value_text,
)
from posthog_client._flagclient.values import FlagInfo, FlagSet


def test_flag_called_properties_carry_what_the_server_said() -> None:
    info = FlagInfo("test", '{"x": 1}', 4, 2, "Matched condition set 1", False)
    answer = FlagSet({"exp": info}, request_id="r", evaluated_at=5)
    props = flag_called_properties("exp", "test", info, answer, original="control")
    assert props == {
        "$feature_flag": "exp",
        "$feature_flag_response": "test",
        "$feature/exp": "test",
        "locally_evaluated": False,
        "$feature_flag_id": 4,
        "$feature_flag_version": 2,
        "$feature_flag_reason": "Matched condition set 1",
        "$feature_flag_has_experiment": False,
        "$feature_flag_payload": {"x": 1},
        "$feature_flag_request_id": "r",
        "$feature_flag_evaluated_at": 5,
        "$feature_flag_original_response": "control",
    }


def test_errors_are_comma_joined_once_each() -> None:
    answer = FlagSet({}, errors=True)
    errors = ["timeout", *answer_errors(answer, "missing"), "timeout"]
    props = flag_called_properties("missing", None, None, answer, errors=errors)
    assert props["$feature_flag_error"] == "timeout,errors_while_computing_flags,flag_missing"
    assert answer_errors(FlagSet({}, quota_limited=True), "x") == ["quota_limited"]


def test_event_flag_properties_list_enabled_flags_sorted() -> None:
    props = event_flag_properties({"b": True, "a": "v", "c": False})
    assert props == {
        "$feature/b": True,
        "$feature/a": "v",
        "$feature/c": False,
        "$active_feature_flags": ["a", "b"],
    }


def test_values_are_recorded_as_text_that_keeps_variants_apart() -> None:
    assert [value_text(v) for v in (True, False, None, "Test")] == ["true", "false", "null", "Test"]


def test_dedup_is_per_user_value_and_groups_and_forgets_the_oldest_user() -> None:
    dedup = CallDedup(max_users=2)
    assert dedup.first("u1", "f", True, {})
    assert not dedup.first("u1", "f", True, {})
    assert dedup.first("u1", "f", False, {})
    assert dedup.first("u1", "f", True, {"company": "a"})
    assert dedup.first("u2", "f", True, {})
    assert not dedup.first("u1", "f", True, {})  # u1 seen again: now the most recent
    assert dedup.first("u3", "f", True, {})  # evicts u2, the least recently seen
    assert dedup.first("u2", "f", True, {})
    assert not dedup.first("u3", "f", True, {})
