"""Local evaluation never contradicts ``/flags``: a property-based check of the engine.

Whatever PostHog stores besides the properties the SDK passes, a flag the SDK decides locally
must get the same value from server evaluation over stored + passed properties.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from posthog_client._flags import FlagResult, Inconclusive, Subject, evaluate_flags
from posthog_client._flags import parse_definitions as parse

KEYS = st.sampled_from(["plan", "age", "email"])
VALUES = st.sampled_from(["pro", "free", 5, 30, "a@corp.com", None, True])
OPERATORS = st.sampled_from(
    ["exact", "is_not", "is_set", "is_not_set", "icontains", "not_icontains", "gt", "lte"]
)
FILTER = st.fixed_dictionaries(
    {"key": KEYS, "value": VALUES, "operator": OPERATORS, "type": st.just("person")}
)
CONDITION = st.fixed_dictionaries(
    {
        "properties": st.lists(FILTER, max_size=2),
        "rollout_percentage": st.sampled_from([None, 0, 30, 70, 100]),
        "variant": st.sampled_from([None, "a", "b"]),
    }
)
TWO_VARIANTS = {
    "variants": [{"key": "a", "rollout_percentage": 50}, {"key": "b", "rollout_percentage": 50}]
}
FLAG = st.fixed_dictionaries(
    {
        "key": st.sampled_from(["f1", "f2", "f3"]),
        "filters": st.fixed_dictionaries(
            {
                "groups": st.lists(CONDITION, max_size=3),
                "multivariate": st.sampled_from([None, TWO_VARIANTS]),
                "early_exit": st.booleans(),
            }
        ),
    }
)
PROPERTIES = st.dictionaries(KEYS, VALUES, max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    flags=st.lists(FLAG, max_size=3, unique_by=lambda f: f["key"]),
    distinct_id=st.sampled_from(["distinct_id_0", "distinct_id_1", "distinct_id_2", "u"]),
    passed=PROPERTIES,
    stored=PROPERTIES,
)
def test_a_local_decision_is_the_servers(
    flags: list[dict[str, Any]], distinct_id: str, passed: dict[str, Any], stored: dict[str, Any]
) -> None:
    definitions = parse(flags)
    local = evaluate_flags(definitions, Subject(distinct_id, person_properties=passed), local=True)
    everything = Subject(distinct_id, person_properties={**stored, **passed})
    remote = evaluate_flags(definitions, everything)
    assert local.keys() == remote.keys()
    for key, result in local.items():
        truth = remote[key]
        assert isinstance(truth, FlagResult)
        if isinstance(result, Inconclusive):
            continue
        assert (result.enabled, result.variant, result.payload) == (
            truth.enabled, truth.variant, truth.payload,
        )  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(flags=st.lists(FLAG, max_size=3, unique_by=lambda f: f["key"]), passed=PROPERTIES)
def test_with_every_property_passed_local_evaluation_always_decides(
    flags: list[dict[str, Any]], passed: dict[str, Any]
) -> None:
    complete = {"plan": None, "age": None, "email": None, **passed}
    results = evaluate_flags(parse(flags), Subject("u", person_properties=complete), local=True)
    assert all(isinstance(r, FlagResult) for r in results.values())


JUNK = st.none() | st.booleans() | st.integers(-5, 200) | st.text(max_size=6) | st.just([])
ANY_FILTER = st.fixed_dictionaries(
    {},
    optional={
        "key": KEYS | JUNK,
        "value": VALUES | JUNK | st.lists(VALUES, max_size=2),
        "operator": OPERATORS | st.sampled_from(["regex", "semver_gt", "is_date_before", "in"]),
        "type": st.sampled_from(["person", "group", "cohort", "flag", "event"]) | JUNK,
        "group_type_index": st.sampled_from([0, 1, 9]) | JUNK,
        "negation": st.booleans() | JUNK,
    },
)
ANY_FLAG = st.fixed_dictionaries(
    {"key": st.sampled_from(["f1", "f2", "f3"])},
    optional={
        "active": st.booleans() | JUNK,
        "ensure_experience_continuity": st.booleans(),
        "bucketing_identifier": st.sampled_from(["device_id", "distinct_id"]) | JUNK,
        "filters": st.fixed_dictionaries(
            {},
            optional={
                "groups": st.lists(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "properties": st.lists(ANY_FILTER, max_size=3) | JUNK,
                            "rollout_percentage": st.sampled_from([0, 50, 100]) | JUNK,
                            "variant": st.sampled_from(["a", "zz"]) | JUNK,
                            "aggregation_group_type_index": st.sampled_from([0, 1, 9]) | JUNK,
                        },
                    ),
                    max_size=3,
                ),
                "aggregation_group_type_index": st.sampled_from([0, 9]) | JUNK,
                "holdout": st.fixed_dictionaries({"id": st.just(1), "exclusion_percentage": JUNK}),
                "feature_enrollment": st.booleans(),
                "super_groups": st.lists(
                    st.fixed_dictionaries({"properties": st.lists(ANY_FILTER, max_size=2)})
                ),
                "payloads": st.dictionaries(st.sampled_from(["true", "a"]), JUNK),
            },
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    flags=st.lists(ANY_FLAG, max_size=3),
    cohorts=st.dictionaries(
        st.sampled_from(["1", "2"]),
        st.fixed_dictionaries(
            {"type": st.sampled_from(["AND", "OR"]), "values": st.lists(ANY_FILTER, max_size=3)}
        ),
    ),
    passed=PROPERTIES,
    groups=st.dictionaries(st.sampled_from(["company", "team"]), JUNK),
    device=st.none() | st.just("d1"),
)
def test_any_definitions_evaluate_without_raising(
    flags: list[dict[str, Any]],
    cohorts: dict[str, Any],
    passed: dict[str, Any],
    groups: dict[str, Any],
    device: str | None,
) -> None:
    data = {"flags": flags, "cohorts": cohorts, "group_type_mapping": {"0": "company"}}
    definitions = parse(data)  # lenient: broken flags are left out with a warning
    subject = Subject("u", person_properties=passed, groups=groups, device_id=device)
    for result in evaluate_flags(definitions, subject).values():
        assert isinstance(result, FlagResult)
    for result in evaluate_flags(definitions, subject, local=True).values():
        assert isinstance(result, (FlagResult, Inconclusive))
