"""Flag evaluation (flags-spec E2–E21, T14–T16), on the server and locally in the SDK."""

from __future__ import annotations

from typing import Any

import pytest

from posthog_client._flags import (
    Definitions,
    FlagResult,
    Inconclusive,
    Subject,
    evaluate_flag,
    evaluate_flags,
    parse_definitions,
)
from posthog_client._flags._hashing import bucket


def definitions(*flags: dict[str, Any], **extra: Any) -> Definitions:
    return parse_definitions({"flags": list(flags), **extra}, strict=True)


def flag(key: str, *groups: dict[str, Any], **filters: Any) -> dict[str, Any]:
    return {"id": None, "key": key, "active": True, "filters": {"groups": list(groups), **filters}}


def person(key: str, value: Any, operator: str = "exact") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": "person"}


def decided(result: FlagResult | Inconclusive | None) -> FlagResult:
    assert isinstance(result, FlagResult), result
    return result


def server(defs: Definitions, key: str, subject: Subject) -> FlagResult:
    return decided(evaluate_flag(defs, key, subject))


def local(defs: Definitions, key: str, subject: Subject) -> FlagResult | Inconclusive | None:
    return evaluate_flag(defs, key, subject, local=True)


GROUP_FLAG = definitions(
    flag(
        "group-flag",
        {
            "properties": [
                {"key": "name", "value": ["Project Name 1"], "operator": "exact", "type": "group",
                 "group_type_index": 0}
            ],
            "rollout_percentage": 35,
        },
        aggregation_group_type_index=0,
    ),
    group_type_mapping={"0": "company", "1": "project"},
)  # fmt: skip
NAME_1 = {"company": {"name": "Project Name 1"}}


@pytest.mark.parametrize("evaluate", [server, local], ids=["server", "local"])
def test_t14_t15_group_flag_hashes_the_group_key(evaluate: Any) -> None:
    assert bucket("group-flag.", "amazon_without_rollout") == 0.30897111071897326  # T14
    assert bucket("group-flag.", "amazon") == 0.5432523073764106  # T15
    inside = Subject("some-distinct-id", groups={"company": "amazon_without_rollout"},
                     group_properties=NAME_1)  # fmt: skip
    assert decided(evaluate(GROUP_FLAG, "group-flag", inside)).enabled is True
    outside = Subject("some-distinct-id", groups={"company": "amazon"}, group_properties=NAME_1)
    result = decided(evaluate(GROUP_FLAG, "group-flag", outside))
    assert (result.enabled, result.reason, result.condition_index) == (
        False, "out_of_rollout_bound", 0,
    )  # fmt: skip
    no_group = decided(evaluate(GROUP_FLAG, "group-flag", Subject("x", group_properties=NAME_1)))
    assert (no_group.enabled, no_group.reason) == (False, "no_group_type")
    other = Subject("x", groups={"company": "amazon_without_rollout"},
                    group_properties={"company": {"name": "Project Name 2"}})  # fmt: skip
    assert decided(evaluate(GROUP_FLAG, "group-flag", other)).reason == "no_condition_match"


def test_group_flags_locally_need_the_group_properties_or_a_group_key_filter() -> None:
    subject = Subject("x", groups={"company": "amazon_without_rollout"})
    assert isinstance(local(GROUP_FLAG, "group-flag", subject), Inconclusive)
    assert server(GROUP_FLAG, "group-flag", subject).reason == "no_condition_match"
    by_key = definitions(
        flag("f", {"properties": [{"key": "$group_key", "value": "acme", "type": "group",
                                   "group_type_index": 0}]}, aggregation_group_type_index=0),
        group_type_mapping={"0": "company"},
    )  # fmt: skip
    assert decided(local(by_key, "f", Subject("x", groups={"company": "acme"}))).enabled is True
    assert decided(local(by_key, "f", Subject("x", groups={"company": 7}))).enabled is False


def test_group_type_index_unknown_to_the_definitions() -> None:
    defs = definitions(flag("f", {"rollout_percentage": 100}, aggregation_group_type_index=3))
    assert isinstance(local(defs, "f", Subject("x", groups={"team": "a"})), Inconclusive)
    assert server(defs, "f", Subject("x")).reason == "no_group_type"


BETA = definitions(
    flag(
        "beta-feature",
        {"properties": [person("email", "test@posthog.com")], "rollout_percentage": 100,
         "variant": "second-variant"},
        {"rollout_percentage": 50, "variant": "first-variant"},
        multivariate={"variants": [
            {"key": "first-variant", "rollout_percentage": 50},
            {"key": "second-variant", "rollout_percentage": 25},
            {"key": "third-variant", "rollout_percentage": 25},
        ]},
    )
)  # fmt: skip


def test_t16_variant_overrides_in_stored_order() -> None:
    assert bucket("beta-feature.", "example_id") == 0.2093039334578348
    result = server(BETA, "beta-feature", Subject("example_id"))
    assert (result.variant, result.reason, result.condition_index) == (
        "first-variant", "condition_match", 1,
    )  # fmt: skip
    assert result.description == "Matched condition set 2"
    matched = Subject("test_id", person_properties={"email": "test@posthog.com"})
    assert server(BETA, "beta-feature", matched).variant == "second-variant"
    assert decided(local(BETA, "beta-feature", matched)).variant == "second-variant"


def test_t16_locally_defers_when_an_undecided_condition_would_give_another_variant() -> None:
    # PostHog may hold email=test@posthog.com for this person: then /flags says second-variant.
    assert isinstance(local(BETA, "beta-feature", Subject("example_id")), Inconclusive)
    known = Subject("example_id", person_properties={"email": "someone@else.com"})
    assert decided(local(BETA, "beta-feature", known)).variant == "first-variant"


def test_a_later_match_decides_locally_when_the_value_cannot_differ() -> None:
    defs = definitions(flag("f", {"properties": [person("email", "a@b.c")]}, {}))
    assert decided(local(defs, "f", Subject("x"))).enabled is True
    needs_email = definitions(flag("f", {"properties": [person("email", "a@b.c")]}))
    assert isinstance(local(needs_email, "f", Subject("x")), Inconclusive)
    assert server(needs_email, "f", Subject("x")).enabled is False


def test_an_undecided_condition_out_of_its_rollout_is_decided() -> None:
    # distinct_id_0 hashes to 0.78 for "simple-flag": a 45 % rollout excludes it anyway.
    defs = definitions(
        flag("simple-flag", {"properties": [person("plan", "pro")], "rollout_percentage": 45})
    )
    result = decided(local(defs, "simple-flag", Subject("distinct_id_0")))
    assert (result.enabled, result.reason) == (False, "out_of_rollout_bound")
    assert isinstance(local(defs, "simple-flag", Subject("distinct_id_1")), Inconclusive)


def test_reasons_rank_and_report_the_best_condition() -> None:
    defs = definitions(
        flag("simple-flag", {"properties": [person("plan", "pro")]}, {"rollout_percentage": 45},
             {"properties": [person("plan", "team")]}),
    )  # fmt: skip
    result = server(defs, "simple-flag", Subject("distinct_id_0", person_properties={"plan": "x"}))
    assert (result.reason, result.condition_index) == ("out_of_rollout_bound", 1)
    assert result.description == "Out of rollout bound"
    defs = definitions(
        flag("f", {"properties": [person("a", 1)]}, {"properties": [person("b", 1)]})
    )
    result = server(defs, "f", Subject("x"))
    assert (result.reason, result.condition_index) == ("no_condition_match", 1)  # ties: the last
    assert server(definitions(flag("f")), "f", Subject("x")).reason == "no_group_type"


def test_skipped_group_conditions_enrich_the_no_match_description() -> None:
    defs = definitions(
        flag("f", {"properties": [person("plan", "pro")]},
             {"aggregation_group_type_index": 0, "rollout_percentage": 100}),
        group_type_mapping={"0": "company"},
    )  # fmt: skip
    result = server(defs, "f", Subject("x"))
    assert result.reason == "no_condition_match"
    assert result.description.startswith("No matching condition set (group conditions")
    assert server(defs, "f", Subject("x", groups={"company": "c"})).enabled is True


def test_payloads_only_for_enabled_flags() -> None:
    defs = definitions(
        flag("on", {}, payloads={"true": '{"a": 1}'}),
        flag("off", {"rollout_percentage": 0}, payloads={"true": "1"}),
        flag("variant", {"variant": "b"}, payloads={"b": {"x": [1, 2]}},
             multivariate={"variants": [{"key": "a", "rollout_percentage": 50},
                                        {"key": "b", "rollout_percentage": 50}]}),
    )  # fmt: skip
    results = evaluate_flags(defs, Subject("someone"))
    assert decided(results["on"]).payload == '{"a": 1}'
    assert decided(results["off"]).payload is None
    assert decided(results["variant"]).payload == '{"x":[1,2]}'  # a value is stored encoded


def test_holdout_comes_before_the_conditions() -> None:
    # No flag key in the holdout hash: "holdout-user-1" is at 0.178, "holdout-user-2" at 0.928.
    assert bucket("holdout-", "user-1") < 0.2 < bucket("holdout-", "user-2")
    defs = definitions(
        flag("exp", {}, holdout={"id": 42, "exclusion_percentage": 20}),
        flag("all-held", {}, holdout={"id": 7, "exclusion_percentage": 100}),
    )
    result = server(defs, "exp", Subject("user-1"))
    assert (result.enabled, result.variant, result.reason, result.condition_index) == (
        True, "holdout-42", "holdout_condition_value", None,
    )  # fmt: skip
    assert server(defs, "exp", Subject("user-2")).reason == "condition_match"
    assert server(defs, "all-held", Subject("anyone")).variant == "holdout-7"


def test_early_access_enrollment_decides_first() -> None:
    defs = definitions(flag("beta", {"rollout_percentage": 0}, feature_enrollment=True))
    key = "$feature_enrollment/beta"
    enrolled = server(defs, "beta", Subject("x", person_properties={key: True}))
    assert (enrolled.enabled, enrolled.reason, enrolled.condition_index) == (
        True, "super_condition_value", 0,
    )  # fmt: skip
    assert server(defs, "beta", Subject("x", person_properties={key: "false"})).enabled is False
    assert server(defs, "beta", Subject("x")).reason == "out_of_rollout_bound"
    assert isinstance(local(defs, "beta", Subject("x")), Inconclusive)
    assert decided(local(defs, "beta", Subject("x", person_properties={key: "true"}))).enabled


def test_legacy_super_groups_apply_when_the_person_has_their_properties() -> None:
    defs = definitions(
        flag("f", {"rollout_percentage": 0},
             super_groups=[{"properties": [person("beta", True)], "rollout_percentage": 100}]),
    )  # fmt: skip
    assert server(defs, "f", Subject("x", person_properties={"beta": True})).enabled is True
    assert server(defs, "f", Subject("x", person_properties={"beta": False})).enabled is False
    assert server(defs, "f", Subject("x")).reason == "out_of_rollout_bound"
    assert isinstance(local(defs, "f", Subject("x")), Inconclusive)


def test_device_bucketing() -> None:
    defs = definitions(
        {**flag("simple-flag", {"rollout_percentage": 45}), "bucketing_identifier": "device_id"}
    )
    # distinct_id_1 is inside a 45 % rollout and distinct_id_0 outside (T1, T2).
    on_device = Subject("distinct_id_0", device_id="distinct_id_1")
    assert server(defs, "simple-flag", on_device).enabled is True
    assert decided(local(defs, "simple-flag", on_device)).enabled is True
    no_device = server(defs, "simple-flag", Subject("distinct_id_1"))
    assert (no_device.enabled, no_device.reason) == (False, "out_of_rollout_bound")


def test_experience_continuity_hashes_the_anonymous_id_or_the_stored_key() -> None:
    defs = definitions({**flag("simple-flag", {"rollout_percentage": 45}),
                        "ensure_experience_continuity": True})  # fmt: skip
    identified = Subject("distinct_id_0", anon_distinct_id="distinct_id_1")
    assert server(defs, "simple-flag", identified).enabled is True
    stored = Subject("distinct_id_1", hash_key_overrides={"simple-flag": "distinct_id_0"})
    assert server(defs, "simple-flag", stored).enabled is False
    assert isinstance(local(defs, "simple-flag", Subject("distinct_id_1")), Inconclusive)


def dependency(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "value": value, "operator": "flag_evaluates_to", "type": "flag",
            "dependency_chain": [key]}  # fmt: skip


def test_flag_dependencies() -> None:
    defs = definitions(
        flag("parent", {"properties": [person("plan", "pro")]}),
        flag("child-on", {"properties": [dependency("parent", True)]}),
        flag("child-off", {"properties": [dependency("parent", False)]}),
        flag("child-variant", {"properties": [dependency("mv", "b")]}),
        flag("mv", {"variant": "b"}, multivariate={"variants": [
            {"key": "a", "rollout_percentage": 50}, {"key": "b", "rollout_percentage": 50}]}),
    )  # fmt: skip
    pro = evaluate_flags(defs, Subject("x", person_properties={"plan": "pro"}))
    assert {k: decided(r).enabled for k, r in pro.items()} == {
        "parent": True, "child-on": True, "child-off": False, "child-variant": True, "mv": True,
    }  # fmt: skip
    free = evaluate_flags(defs, Subject("x", person_properties={"plan": "free"}), local=True)
    assert decided(free["child-on"]).enabled is False
    assert decided(free["child-off"]).enabled is True
    unknown = evaluate_flags(defs, Subject("x"), local=True)
    assert isinstance(unknown["child-on"], Inconclusive)  # its parent is undecided
    assert decided(unknown["child-variant"]).enabled is True


def test_dependencies_by_id_missing_inactive_cyclic_and_excluded() -> None:
    defs = definitions(
        {**flag("a", {}), "id": 10},
        flag("by-id", {"properties": [dependency("10", True)]}),
        flag("missing", {"properties": [dependency("gone", True)]}),
        flag("indirect", {"properties": [dependency("missing", False)]}),
        flag("loop-1", {"properties": [dependency("loop-2", True)]}),
        flag("loop-2", {"properties": [dependency("loop-1", True)]}),
        {**flag("inactive", {}), "active": False},
        flag("on-inactive", {"properties": [dependency("inactive", False)]}),
        flag("on-a-false", {"properties": [dependency("a", False)]}),
    )
    assert defs.cyclic == {"loop-1", "loop-2"}
    results = evaluate_flags(defs, Subject("x"), excluded={"a"})
    assert "a" not in results and "inactive" not in results
    assert decided(results["by-id"]).enabled is False  # an excluded flag reads as false…
    assert decided(results["on-a-false"]).enabled is True
    assert decided(results["on-inactive"]).enabled is False  # …an inactive one has no value
    for key in ("missing", "indirect", "loop-1", "loop-2"):
        assert decided(results[key]).reason == "missing_dependency"
        assert isinstance(local(defs, key, Subject("x")), Inconclusive)
    assert server(defs, "by-id", Subject("x")).enabled is True


COHORTS = {
    "1": {"type": "OR", "values": [
        {"type": "AND", "values": [person("plan", "pro"), person("country", "FR", "is_not")]},
        {"type": "AND", "values": [{"key": "id", "value": 2, "type": "cohort"}]},
    ]},
    "2": {"type": "AND", "values": [{**person("email", "@corp.com", "icontains"),
                                     "negation": True}]},
    "3": {"type": "AND", "values": [{"key": "id", "value": 3, "type": "cohort"}]},
}  # fmt: skip


def cohort_flag(cohort: int, operator: str = "in") -> Definitions:
    condition = {"properties": [{"key": "id", "value": cohort, "type": "cohort",
                                 "operator": operator}]}  # fmt: skip
    return definitions(flag("f", condition), cohorts=COHORTS)


@pytest.mark.parametrize(
    ("properties", "member"),
    [
        ({"plan": "pro", "country": "DE", "email": "a@corp.com"}, True),
        ({"plan": "pro", "country": "FR", "email": "a@corp.com"}, False),
        ({"plan": "free", "email": "a@home.org"}, True),  # through cohort 2 (negated filter)
        ({"plan": "free", "email": "a@corp.com"}, False),
    ],
)
def test_dynamic_cohorts(properties: dict[str, Any], member: bool) -> None:
    subject = Subject("x", person_properties=properties)
    assert server(cohort_flag(1), "f", subject).enabled is member
    assert decided(local(cohort_flag(1), "f", subject)).enabled is member
    assert server(cohort_flag(1, "not_in"), "f", subject).enabled is not member


def test_static_unknown_and_cyclic_cohorts() -> None:
    subject = Subject("x", cohort_memberships={9: True})
    assert server(cohort_flag(9), "f", subject).enabled is True
    assert isinstance(local(cohort_flag(9), "f", Subject("x")), Inconclusive)
    failed = server(cohort_flag(9), "f", Subject("x"))
    assert (failed.enabled, failed.failed, failed.reason) == (False, True, "dependency_not_found")
    assert server(cohort_flag(3), "f", Subject("x")).reason == "dependency_cycle"
    undecided = Subject("x", person_properties={"plan": "pro"})  # country and email unknown
    assert isinstance(local(cohort_flag(1), "f", undecided), Inconclusive)


def test_early_exit_stops_at_an_out_of_rollout_condition() -> None:
    defs = definitions(
        flag("simple-flag", {"properties": [person("region", "USA")], "rollout_percentage": 45},
             {"properties": [person("region", "USA")], "rollout_percentage": 100},
             early_exit=True),
    )  # fmt: skip
    usa = Subject("distinct_id_0", person_properties={"region": "USA"})
    result = server(defs, "simple-flag", usa)
    assert (result.enabled, result.reason, result.condition_index) == (
        False, "out_of_rollout_bound", 0,
    )  # fmt: skip
    assert isinstance(local(defs, "simple-flag", Subject("distinct_id_0")), Inconclusive)


def test_mixed_targeting_reads_group_filters_from_the_group() -> None:
    defs = definitions(
        flag("f", {"properties": [person("plan", "pro"),
                                  {"key": "tier", "value": "gold", "type": "group",
                                   "group_type_index": 0}]}),
        group_type_mapping={"0": "company"},
    )  # fmt: skip
    subject = Subject("x", person_properties={"plan": "pro"}, groups={"company": "acme"},
                      group_properties={"company": {"tier": "gold"}})  # fmt: skip
    assert server(defs, "f", subject).enabled is True
    assert decided(local(defs, "f", subject)).enabled is True
    no_group = Subject("x", person_properties={"plan": "pro"})
    assert server(defs, "f", no_group).enabled is False
    assert decided(local(defs, "f", no_group)).enabled is False  # PostHog has nothing either


def test_inactive_and_unknown_flags() -> None:
    defs = definitions({**flag("off", {}), "active": False})
    disabled = decided(evaluate_flag(defs, "off", Subject("x")))
    assert (disabled.enabled, disabled.reason) == (False, "flag_disabled")
    assert evaluate_flag(defs, "nope", Subject("x")) is None
    assert evaluate_flags(defs, Subject("x")) == {}
