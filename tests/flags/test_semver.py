"""Semantic version operators (flags-spec E12) with the Rust ``semver`` crate's rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_client._flags._semver import compare, in_range, parse_version


@pytest.mark.parametrize(
    ("operator", "actual", "expected", "result"),
    [
        ("semver_eq", "1.2.3", "v1.2.3", True),
        ("semver_eq", "1.2", "1.2.0", True),  # padded
        ("semver_eq", "3.08", "3.8.0", True),  # leading zeros stripped
        ("semver_eq", "3", "3.0.0", True),
        ("semver_eq", " v1.2.3 ", "1.2.3", False),  # "v" is only stripped in front
        ("semver_eq", "V1.2.3", "1.2.3", False),  # and only lowercase
        ("semver_eq", "1.0.0+build.1", "1.0.0", False),  # build metadata takes part
        ("semver_neq", "1.0.0+build.1", "1.0.0", True),
        ("semver_neq", "not a version", "1.0.0", False),  # unparsable never matches
        ("semver_gt", "10.0.0", "2.0.0", True),  # numbers, not strings
        ("semver_lt", "1.2.3-alpha", "1.2.3", True),  # pre-releases come first
        ("semver_lt", "1.2.3-alpha.1", "1.2.3-alpha.beta", True),  # numeric before alphanumeric
        ("semver_lt", "1.2.3-alpha.2", "1.2.3-alpha.10", True),
        ("semver_lt", "1.2.3-alpha", "1.2.3-alpha.1", True),
        ("semver_gte", "1.2.3", "1.2.3", True),
        ("semver_lte", "1.2.4", "1.2.3", False),
        ("semver_eq", "1.2.3-01", "1.2.3-01", False),  # leading zero in a pre-release number
        ("semver_eq", "1.2.3.4", "1.2.3.4", False),
        ("semver_gt", 2, "1.9.9", True),  # numbers read through their text
    ],
)
def test_comparisons(operator: str, actual: Any, expected: Any, result: bool) -> None:
    assert compare(operator, actual, expected) is result


@pytest.mark.parametrize(
    ("operator", "requirement", "version", "result"),
    [
        ("semver_tilde", "1.2.3", "1.2.5", True),
        ("semver_tilde", "1.2.3", "1.3.0", False),
        ("semver_tilde", "1.2.3", "1.2.2", False),
        ("semver_tilde", "1.2", "1.2.9", True),
        ("semver_tilde", "v1.02", "1.2.0", True),
        ("semver_caret", "1.2.3", "1.9.9", True),
        ("semver_caret", "1.2.3", "2.0.0", False),
        ("semver_caret", "0.2.3", "0.2.9", True),
        ("semver_caret", "0.2.3", "0.3.0", False),
        ("semver_caret", "0.0.3", "0.0.3", True),
        ("semver_caret", "0.0.3", "0.0.4", False),
        ("semver_wildcard", "1.2.*", "1.2.0", True),
        ("semver_wildcard", "1.2.*", "1.2.99", True),
        ("semver_wildcard", "1.2.*", "1.3.0", False),
        ("semver_wildcard", "1.*", "1.9.0", True),
        ("semver_wildcard", "1.*", "2.0.0", False),
        ("semver_wildcard", "1.*.*", "1.0.5", True),
        ("semver_wildcard", "3.08.*", "3.8.1", True),
        ("semver_wildcard", "*", "7.0.0", True),
        ("semver_wildcard", "*", "7.0.0-beta", False),
        ("semver_wildcard", "1.*.3", "1.0.3", False),  # a number after a wildcard is invalid
        ("semver_wildcard", "1.2.3", "1.5.0", True),  # no wildcard: the crate reads ^1.2.3
        ("semver_wildcard", ">=1.2, <1.4", "1.3.0", True),  # a full requirement
        ("semver_wildcard", ">=1.2, <1.4", "1.4.0", False),
        # A pre-release satisfies a range only next to a comparator with the same version.
        ("semver_caret", "1.2.3", "1.5.0-beta", False),
        ("semver_tilde", "1.2.3-alpha", "1.2.3-beta", True),
        ("semver_tilde", "1.2.3-alpha", "1.2.4-beta", False),
        ("semver_tilde", "1.2.3+build", "1.2.3", False),  # no build metadata in requirements
        ("semver_caret", "", "1.0.0", False),
        ("semver_tilde", "1.2.3", "garbage", False),
    ],
)
def test_ranges(operator: str, requirement: str, version: str, result: bool) -> None:
    assert in_range(operator, version, requirement) is result


def test_parse_version_orders_like_semver() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"]  # fmt: skip
    parsed = [parse_version(v) for v in ordered]
    assert all(p is not None for p in parsed)
    assert parsed == sorted(parsed)  # type: ignore[type-var]


SEMVER_TEXT = st.text(alphabet="0123456789.-+vVxX*^~<>=, abc", max_size=16)


def test_a_requirement_with_a_leading_zero_pre_release_never_matches() -> None:
    # found by the property below: "0-00" made the caret requirement raise
    assert in_range("semver_caret", 0, "0-00") is False
    assert in_range("semver_tilde", "0.0.0-1", "0.0.0-01") is False


@given(actual=st.one_of(SEMVER_TEXT, st.integers(), st.none()), expected=SEMVER_TEXT)
def test_semver_operators_never_raise(actual: Any, expected: str) -> None:
    for operator in ("semver_eq", "semver_neq", "semver_gt", "semver_lte"):
        assert isinstance(compare(operator, actual, expected), bool)
    for operator in ("semver_tilde", "semver_caret", "semver_wildcard"):
        assert isinstance(in_range(operator, actual, expected), bool)
