"""Bucketing, bit-exact with flags-spec §5 (T1–T13) and posthog-python's 1,000-id arrays."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from posthog_client._flags import (
    Condition,
    Definitions,
    FlagDefinition,
    FlagResult,
    Subject,
    Variant,
    evaluate_flag,
)
from posthog_client._flags._hashing import bucket, in_rollout, pick_variant

CONSISTENCY = json.loads(
    (Path(__file__).parent / "data" / "posthog_python_consistency.json").read_text()
)

SIMPLE = FlagDefinition("simple-flag", id=1, conditions=(Condition(rollout_percentage=45.0),))
VARIANTS = (
    Variant("first-variant", 50.0),
    Variant("second-variant", 20.0),
    Variant("third-variant", 20.0),
    Variant("fourth-variant", 5.0),
    Variant("fifth-variant", 5.0),
)
MULTIVARIATE = FlagDefinition(
    "multivariate-flag", id=1, conditions=(Condition(rollout_percentage=55.0),), variants=VARIANTS
)


def value(flag: FlagDefinition, distinct_id: str, *, local: bool = False) -> bool | str:
    result = evaluate_flag(
        Definitions(flags={flag.key: flag}), flag.key, Subject(distinct_id), local=local
    )
    assert isinstance(result, FlagResult)
    return result.value


@pytest.mark.parametrize(
    ("distinct_id", "sha1_prefix", "expected_hash", "enabled"),
    [
        ("distinct_id_0", "c8a05362b9f414f", 0.7836963764220432, False),  # T1
        ("distinct_id_1", "56f70997ddf6067", 0.3397069926995401, True),  # T2
        ("distinct_id_2", "5f3e3d121e822df", 0.3720434350239052, True),  # T3
        ("distinct_id_3", "e859e70821b6266", 0.9076218027928112, False),  # T4
        ("distinct_id_4", "0a223dabfacb59d", 0.03958497475359249, True),  # T5
        ("distinct_id_5", "f6ce4b245084e59", 0.9640852893503681, False),  # T6
        ("distinct_id_185", "3c26e90f963d790", 0.2349687254957099, True),  # T7
    ],
)
def test_simple_flag_vectors(
    distinct_id: str, sha1_prefix: str, expected_hash: float, enabled: bool
) -> None:
    digest = hashlib.sha1(f"simple-flag.{distinct_id}".encode()).hexdigest()
    assert digest[:15] == sha1_prefix
    assert bucket("simple-flag.", distinct_id) == expected_hash  # exact float equality
    assert value(SIMPLE, distinct_id) is enabled


def test_t7_converts_to_float_before_dividing() -> None:
    # An exact int/int division lands one ulp away for this id; PostHog divides floats.
    exact = int("3c26e90f963d790", 16) / 0xFFFFFFFFFFFFFFF
    assert exact == 0.23496872549570993
    assert bucket("simple-flag.", "distinct_id_185") == 0.2349687254957099


@pytest.mark.parametrize(
    ("distinct_id", "rollout_hash", "variant_hash", "expected"),
    [
        ("distinct_id_0", 0.502037796130735, 0.6186454537930379, "second-variant"),  # T8
        ("distinct_id_2", 0.35660411704312434, 0.06390106281412483, "first-variant"),  # T9
        ("distinct_id_3", 0.701012555518958, None, False),  # T10
        ("distinct_id_11", 0.16558851395356403, 0.8935740158403065, "third-variant"),  # T11
        ("distinct_id_18", 0.2775961419153611, 0.9136246027428971, "fourth-variant"),  # T12
        ("distinct_id_81", 0.345311276461349, 0.9891155455129528, "fifth-variant"),  # T13
    ],
)
def test_multivariate_vectors(
    distinct_id: str, rollout_hash: float, variant_hash: float | None, expected: bool | str
) -> None:
    assert bucket("multivariate-flag.", distinct_id) == rollout_hash
    if variant_hash is not None:
        assert bucket("multivariate-flag.", distinct_id, "variant") == variant_hash
    assert value(MULTIVARIATE, distinct_id) == expected


@pytest.mark.parametrize("local", [False, True], ids=["server", "local"])
@pytest.mark.parametrize(
    ("flag", "arrays_key"), [(SIMPLE, "simple_flag"), (MULTIVARIATE, "multivariate_flag")]
)
def test_posthog_python_consistency_arrays(
    flag: FlagDefinition, arrays_key: str, local: bool
) -> None:
    expected = CONSISTENCY[arrays_key]
    assert len(expected) == 1000
    actual = [value(flag, f"distinct_id_{i}", local=local) for i in range(1000)]
    mismatches = [i for i, (a, e) in enumerate(zip(actual, expected, strict=True)) if a != e]
    assert mismatches == []


def test_rollout_boundaries() -> None:
    share = bucket("simple-flag.", "distinct_id_1") * 100.0  # exactly on the boundary: passes
    assert in_rollout("simple-flag", "distinct_id_1", share)
    assert not in_rollout("simple-flag", "distinct_id_1", 0.0)
    assert in_rollout("simple-flag", "anyone", None)
    assert in_rollout("simple-flag", "anyone", 100.0)
    assert in_rollout("simple-flag", "", 0.0)  # an empty identifier hashes to 0.0


def test_variant_walk_needs_strictly_less_than_the_cumulative_share() -> None:
    assert pick_variant("f", "", (Variant("a", 0.0), Variant("b", 100.0))) == "b"
    assert pick_variant("f", "x", ()) is None
    assert pick_variant("f", "x", (Variant("a", 0.0),)) is None  # shares below 100 leave gaps


def test_identifiers_that_cannot_be_utf8_still_hash() -> None:
    assert 0.0 <= bucket("f.", "\ud800") <= 1.0
