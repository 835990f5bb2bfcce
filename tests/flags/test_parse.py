"""Reading flag definitions (flags-spec SR10): PostHog's JSON, strict and lenient."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from posthog_client import ConfigurationError
from posthog_client._flags import (
    Condition,
    Inconclusive,
    PropertyFilter,
    PropertyGroup,
    Subject,
    Variant,
    evaluate_flag,
    parse_definitions,
)

POSTHOG_DEFINITIONS: dict[str, Any] = {
    "flags": [
        {
            "id": 12,
            "name": "Beta",
            "key": "beta",
            "active": True,
            "deleted": False,
            "version": 3,
            "ensure_experience_continuity": False,
            "evaluation_runtime": "server",
            "evaluation_tags": ["web"],
            "bucketing_identifier": "distinct_id",
            "has_experiment": True,
            "filters": {
                "groups": [
                    {
                        "properties": [
                            {"key": "email", "type": "person", "value": "@corp.com",
                             "operator": "icontains"},
                            {"key": "id", "type": "cohort", "value": 5},
                        ],
                        "rollout_percentage": 50,
                        "variant": None,
                    },
                    {"properties": [], "rollout_percentage": None,
                     "aggregation_group_type_index": 0},
                ],
                "multivariate": {"variants": [{"key": "a", "name": "A", "rollout_percentage": 60},
                                              {"key": "b", "rollout_percentage": 40}]},
                "payloads": {"a": "{\"color\": \"red\"}", "b": None},
                "aggregation_group_type_index": None,
            },
        },
        {"id": 13, "key": "old", "active": True, "deleted": True, "filters": {}},
    ],
    "group_type_mapping": {"0": "company", "1": "project"},
    "cohorts": {"5": {"type": "OR", "values": [{"type": "AND", "values": [
        {"key": "plan", "type": "person", "value": "pro", "negation": False}]}]}},
}  # fmt: skip


def test_reads_the_definitions_endpoint_shape() -> None:
    defs = parse_definitions(POSTHOG_DEFINITIONS, strict=True)
    assert list(defs.flags) == ["beta"]  # deleted flags are dropped
    beta = defs.flags["beta"]
    assert (beta.id, beta.version, beta.evaluation_runtime, beta.evaluation_tags) == (
        12, 3, "server", ("web",),
    )  # fmt: skip
    assert beta.has_experiment and not beta.bucket_by_device
    assert beta.variants == (Variant("a", 60.0), Variant("b", 40.0))
    assert beta.payloads == {"a": '{"color": "red"}'}
    assert beta.conditions[0] == Condition(
        properties=(
            PropertyFilter("email", "@corp.com", "icontains"),
            PropertyFilter("id", 5, "in", "cohort"),  # cohort filters default to "in"
        ),
        rollout_percentage=50.0,
    )
    assert beta.conditions[1].aggregation == 0
    assert defs.group_types == {0: "company", 1: "project"}
    assert defs.cohorts[5] == PropertyGroup(
        match_all=False,
        values=(PropertyGroup(match_all=True, values=(PropertyFilter("plan", "pro"),)),),
    )


def test_a_condition_inherits_the_flag_aggregation_unless_it_sets_its_own() -> None:
    defs = parse_definitions({"flags": [{"key": "f", "filters": {
        "aggregation_group_type_index": 1,
        "groups": [{}, {"aggregation_group_type_index": None}],
    }}]})  # fmt: skip
    assert [c.aggregation for c in defs.flags["f"].conditions] == [1, None]


def test_a_hand_written_file_may_be_a_list_and_omit_ids() -> None:
    defs = parse_definitions(
        [{"key": "a", "filters": {"payloads": {"true": {"x": 1}}}}, {"key": "b", "id": 7},
         {"key": "c"}],
        strict=True,
    )  # fmt: skip
    assert [f.id for f in defs.flags.values()] == [8, 7, 9]
    assert defs.flags["a"].active and defs.flags["a"].payloads == {"true": '{"x":1}'}


@pytest.mark.parametrize(
    ("flag", "where"),
    [
        ({"key": ""}, "flags[0].key"),
        ({"key": "f", "filters": {"groups": [{"rollout_percentage": "50"}]}},
         "flags[0] ('f').filters.groups[0].rollout_percentage"),
        ({"key": "f", "filters": {"groups": [{"rollout_percentage": 101}]}}, "rollout_percentage"),
        ({"key": "f", "filters": {"groups": [{"properties": [{"key": "a", "operator": "like"}]}]}},
         "groups[0].properties[0].operator"),
        ({"key": "f", "filters": {"groups": [{"properties": [
            {"key": "id", "value": 1, "type": "cohort", "operator": "exact"}]}]}}, "operator"),
        ({"key": "f", "filters": {"groups": [{"properties": [
            {"key": "a", "value": "(", "operator": "regex"}]}]}}, "properties[0].value"),
        ({"key": "f", "filters": {"groups": [{"properties": [
            {"key": "id", "value": "abc", "type": "cohort"}]}]}}, "expected the cohort's id"),
        ({"key": "f", "filters": {"groups": [{"properties": [{"key": "a", "type": "event"}]}]}},
         "properties[0].type"),
        ({"key": "f", "filters": {"multivariate": {"variants": [
            {"key": "a", "rollout_percentage": 60}]}}}, "add up to 60"),
        ({"key": "f", "bucketing_identifier": "session"}, "bucketing_identifier"),
        ({"key": "f", "filters": {"holdout": {"exclusion_percentage": 5}}}, "holdout.id"),
        ({"key": "f", "active": "yes"}, "flags[0] ('f').active"),
        ({"key": "f", "evaluation_tags": [1]}, "evaluation_tags"),
    ],
)  # fmt: skip
def test_strict_reading_names_the_problem(flag: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigurationError, match="flag definitions: ") as raised:
        parse_definitions({"flags": [flag]}, strict=True)
    assert where in str(raised.value)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ("flags", "definitions: expected an object"),
        ({"flags": {}}, "definitions.flags: expected a list"),
        ({"group_type_mapping": {"zero": "company"}}, "group_type_mapping['zero']"),
        ({"group_type_mapping": {"0": ""}}, "group_type_mapping['0']"),
        ({"cohorts": {"1": {"type": "XOR", "values": []}}}, "cohorts['1'].type"),
        ({"flags": [{"key": "f"}, {"key": "f"}]}, "a second flag with key 'f'"),
    ],
)
def test_strict_reading_of_the_other_sections(data: Any, where: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_definitions(data, strict=True)
    assert where in str(raised.value)


def test_lenient_reading_leaves_out_only_what_is_broken(caplog: pytest.LogCaptureFixture) -> None:
    data = {
        "flags": [
            {"key": "broken", "filters": {"groups": [{"rollout_percentage": "50"}]}},
            {"key": "newer", "filters": {"groups": [{"properties": [
                {"key": "a", "value": 1, "operator": "some_new_operator"}]}]}},
            {"key": "fine"},
        ],
        "cohorts": {"x": {}},
    }  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        defs = parse_definitions(data)
    assert list(defs.flags) == ["newer", "fine"]
    assert defs.cohorts == {}
    messages = [r.getMessage() for r in caplog.records]
    assert any("flags[0]" in m and "rollout_percentage" in m for m in messages)
    assert any("cohorts['x']" in m for m in messages)
    # An operator this engine does not know is PostHog's to decide.
    subject = Subject("x", person_properties={"a": 1})
    assert isinstance(evaluate_flag(defs, "newer", subject, local=True), Inconclusive)


def test_top_level_problems_raise_even_when_lenient() -> None:
    with pytest.raises(ConfigurationError):
        parse_definitions({"flags": "nope"})
