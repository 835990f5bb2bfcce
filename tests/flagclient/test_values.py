"""Reading /flags answers: v2 and legacy shapes, quota and error answers, payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_client._flagclient.values import (
    FlagInfo,
    FlagSet,
    decode_payload,
    merge,
    read_flags_response,
)

V2 = {
    "flags": {
        "beta": {
            "key": "beta",
            "enabled": True,
            "variant": None,
            "reason": {"code": "condition_match", "description": "Matched condition set 1"},
            "metadata": {"id": 7, "version": 3, "payload": '{"a": 1}', "has_experiment": True},
        },
        "exp": {"key": "exp", "enabled": True, "variant": "test", "metadata": {"payload": "1"}},
        "off": {
            "key": "off",
            "enabled": False,
            "variant": None,
            "reason": {"code": "no_condition_match"},
            "metadata": {"payload": '"never"'},
        },
        "broken": {"key": "broken", "enabled": False, "failed": True},
    },
    "errorsWhileComputingFlags": False,
    "requestId": "r-1",
    "evaluatedAt": 1700000000000,
}


def test_v2_answer_gives_values_metadata_and_payloads_of_enabled_flags_only() -> None:
    answer = read_flags_response(V2)
    assert answer.request_id == "r-1" and answer.evaluated_at == 1700000000000
    beta = answer.flags["beta"]
    assert beta == FlagInfo(True, '{"a": 1}', 7, 3, "Matched condition set 1", True)
    assert answer.flags["exp"].value == "test"
    assert answer.flags["off"] == FlagInfo(False, None, reason="no_condition_match")
    assert answer.flags["broken"].failed


def test_legacy_answer_as_the_harness_mock_sends_it() -> None:
    answer = read_flags_response(
        {
            "featureFlags": {"a": "variant-a", "b": True, "c": False},
            "featureFlagPayloads": {"a": "[1]"},
        }
    )
    assert {k: v.value for k, v in answer.flags.items()} == {
        "a": "variant-a",
        "b": True,
        "c": False,
    }
    assert answer.flags["a"].payload == "[1]"


@pytest.mark.parametrize("body", [[], "x", {}, {"flags": "no"}, None])
def test_an_answer_that_is_no_flags_answer_is_a_value_error(body: Any) -> None:
    with pytest.raises(ValueError):
        read_flags_response(body)


def test_quota_limited_answer_keeps_what_was_known() -> None:
    known = read_flags_response(V2)
    quota = read_flags_response(
        {"flags": {}, "errorsWhileComputingFlags": False, "quotaLimited": ["feature_flags"]}
    )
    kept = merge(known, quota)
    assert kept.flags == known.flags and kept.quota_limited


def test_answer_with_errors_updates_only_the_flags_it_computed() -> None:
    known = FlagSet({"a": FlagInfo(True), "b": FlagInfo("x"), "c": FlagInfo(True)})
    partial = FlagSet(
        {"a": FlagInfo(False), "b": FlagInfo(False, failed=True)}, errors=True, request_id="r2"
    )
    merged = merge(known, partial)
    assert {k: v.value for k, v in merged.flags.items()} == {"a": False, "b": "x", "c": True}
    assert merged.request_id == "r2"
    assert merge(known, FlagSet({"a": FlagInfo(False)})).flags == {"a": FlagInfo(False)}
    assert merge(None, partial).flags == {"a": FlagInfo(False)}  # a failed flag is not a value


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [('{"a": [1, 2]}', {"a": [1, 2]}), ("not json", "not json"), ("", None), (None, None), (3, 3)],
)
def test_payloads_are_decoded_json_else_the_raw_string(raw: Any, decoded: Any) -> None:
    assert decode_payload(raw) == decoded


def test_a_flag_set_survives_the_disk_round_trip() -> None:
    answer = read_flags_response(V2)
    assert FlagSet.from_json(json.loads(json.dumps(answer.to_json()))) == answer


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(
            ["flags", "featureFlags", "featureFlagPayloads", "quotaLimited", "requestId"]
        ),
        json_values,
    )
)
def test_any_json_is_read_or_refused_with_a_value_error(body: dict[str, Any]) -> None:
    try:
        answer = read_flags_response(body)
    except ValueError:
        return
    for info in answer.flags.values():
        assert isinstance(info.value, bool | str)
