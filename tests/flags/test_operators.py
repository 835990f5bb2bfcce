"""Property operators (flags-spec E10) with PostHog's coercions, in both evaluation modes."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posthog_client._flags import PropertyFilter
from posthog_client._flags._model import PROPERTY_OPERATORS
from posthog_client._flags._operators import match_property

UTC = dt.timezone.utc
ABSENT = object()


def match(operator: str, value: Any, actual: Any = ABSENT, *, partial: bool = False) -> bool | None:
    properties = {} if actual is ABSENT else {"key": actual}
    prop = PropertyFilter("key", value, operator)
    return match_property(prop, properties, partial=partial, tz=UTC)


@pytest.mark.parametrize(
    ("operator", "value", "actual", "expected"),
    [
        ("exact", "value", "value", True),
        ("exact", "valUE", "VALue", True),
        ("exact", "value", "value2", False),
        ("exact", "value", "", False),
        ("exact", "value", None, False),
        ("exact", "null", None, True),  # null reads as "null"
        ("exact", ["value1", "value2"], "value2", True),
        ("exact", ["US", "CA"], "us", True),
        ("exact", ["US", "CA"], "de", False),
        ("exact", [], "us", False),
        ("exact", [], True, True),  # an empty list is boolean-like, and "all true"
        ("exact", 5, "5", True),
        ("exact", "5", 5, True),
        ("exact", 5, 5.0, False),  # 5.0 reads as "5.0"
        ("exact", 1e16, "1e16", True),
        ("exact", True, "true", True),
        ("exact", "True", True, True),
        ("exact", "false", False, True),
        ("exact", False, "FALSE", True),
        ("exact", True, 1, False),
        ("exact", True, "yes", False),
        ("exact", ["true"], [True, "TRUE"], True),
        ("exact", "value", ABSENT, False),
        ("is_not", "value", ABSENT, True),
        ("is_not", "value", "value", False),
        ("is_not", "value", "other", True),
        ("is_not", "value", None, True),
        ("is_not", ["a", "b"], "B", False),
        ("is_set", None, None, True),  # a null property is set
        ("is_set", "anything", "x", True),
        ("is_set", None, ABSENT, False),
        ("is_not_set", None, None, False),
        ("is_not_set", None, ABSENT, True),
        ("icontains", "valUe", "343tfvalue5", True),
        ("icontains", "valUe", "Alakazam", False),
        ("icontains", "3", 323, True),
        ("icontains", "valUe", 123, False),
        ("icontains", "Ä", "ä", False),  # only ASCII letters fold
        ("icontains", "x", ABSENT, False),
        ("not_icontains", "x", ABSENT, True),
        ("not_icontains", "val", "VALUE", False),
        ("not_icontains", "val", "other", True),
        ("icontains_multi", ["foo", "bar"], "xBARx", True),
        ("icontains_multi", ["foo", "bar"], "baz", False),
        ("icontains_multi", "foo", "FOOD", True),
        ("not_icontains_multi", ["foo", "bar"], "baz", True),
        ("not_icontains_multi", ["foo"], ABSENT, True),
        ("starts_with", "Val", "value", True),
        ("starts_with", "val", "a value", False),
        ("not_starts_with", "val", "a value", True),
        ("not_starts_with", "val", ABSENT, True),
        ("ends_with", "LUE", "value", True),
        ("ends_with", "val", "value", False),
        ("not_ends_with", "val", "value", True),
        ("regex", "^a.c$", "abc", True),
        ("regex", "b", "abc", True),  # unanchored
        ("regex", r"^\d+$", 123, True),
        ("regex", "^a.c$", "abcd", False),
        ("not_regex", "^a.c$", "abcd", True),
        ("not_regex", "^a.c$", "abc", False),
        ("regex", "(", "(", False),  # a pattern that does not compile never matches
        ("not_regex", "(", "(", False),
        ("regex", "x", ABSENT, False),
        ("not_regex", "x", ABSENT, True),
        ("gt", 5, 10, True),
        ("gt", "5", "10", True),  # numbers, not strings ("10" < "5")
        ("gt", 10, "9", False),
        ("gte", 10, 10.0, True),
        ("lt", 10, "9", True),
        ("lte", "1e3", 1000, True),
        ("gt", 5, "inf", True),
        ("gt", 5, "abc", False),
        ("lt", 5, "abc", False),
        ("lt", 5, " 4", False),  # Rust parses no surrounding spaces
        ("lt", 5, "1_000", False),
        ("lt", 5, True, False),
        ("lt", "five", 4, False),
        ("gt", 5, "NaN", False),
        ("lt", 5, "NaN", False),
        ("gt", 5, ABSENT, False),
        ("between", [1, 5], 3, True),
        ("between", [1, 5], 5, True),
        ("between", [1, 5], 6, False),
        ("between", ["1", "5"], "2.5", True),
        ("not_between", [1, 5], 6, True),
        ("not_between", [1, 5], 3, False),
        ("between", [5, 1], 3, False),  # invalid bounds: no match either way
        ("not_between", [5, 1], 3, False),
        ("not_between", [1, 5], "abc", False),
        ("not_between", [1, 5], "NaN", False),
        ("between", 3, 3, False),
        ("between", [1, 5], ABSENT, False),
        ("not_between", [1, 5], ABSENT, True),
        ("exact", None, "x", False),  # no filter value: only is_set/is_not_set can match
        ("is_not", None, "x", False),
        ("is_not", None, ABSENT, False),
        ("no_such_operator", "x", "x", False),
    ],
)
def test_server_semantics(operator: str, value: Any, actual: Any, expected: bool) -> None:
    assert match(operator, value, actual) is expected


@pytest.mark.parametrize("operator", sorted(PROPERTY_OPERATORS))
def test_local_evaluation_defers_absent_properties_for_every_operator(operator: str) -> None:
    assert match(operator, "x", partial=True) is None
    # …but a present property decides, including for the operators about absence.
    value = "2024-01-01" if operator.startswith("is_date") else "x"
    assert match(operator, value, "2023-06-30", partial=True) is not None


@pytest.mark.parametrize(
    ("operator", "value", "actual"),
    [
        ("regex", "(?<name>x)", "x"),  # valid for the Rust service, not for Python's re
        ("is_date_before", "2024-01-01", "next tuesday"),  # a date shape beyond this parser
        ("is_date_before", "in a while", "2024-01-01"),
        ("some_future_operator", "x", "x"),
    ],
)
def test_local_evaluation_defers_what_this_engine_cannot_be_sure_of(
    operator: str, value: Any, actual: Any
) -> None:
    assert match(operator, value, actual, partial=True) is None
    assert match(operator, value, actual) is False  # the server reads them as no match


def test_a_present_null_property_is_decided_locally() -> None:
    assert match("is_not", "x", None, partial=True) is True
    assert match("exact", "x", None, partial=True) is False
    assert match("is_not_set", None, None, partial=True) is False


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
PYTHON_VALUES = JSON | st.datetimes() | st.dates() | st.datetimes(timezones=st.just(UTC))
OPERATORS = st.sampled_from(sorted(PROPERTY_OPERATORS)) | st.text(max_size=12)
DATE_LIKE = st.sampled_from(["-3d", "7h", "2w", "12m", "9999y", "10000d", "000h"]) | st.text(
    alphabet="0123456789-:TZ+. hdwmyv*x^~,", max_size=30
)


@settings(max_examples=300, deadline=None)
@given(
    operator=OPERATORS,
    value=JSON | DATE_LIKE,
    actual=PYTHON_VALUES | DATE_LIKE,
    partial=st.booleans(),
)
def test_operators_never_raise_and_only_defer_locally(
    operator: str, value: Any, actual: Any, partial: bool
) -> None:
    result = match(operator, value, actual, partial=partial)
    assert result is None or isinstance(result, bool)
    if not partial:
        assert isinstance(result, bool)


@settings(max_examples=200, deadline=None)
@given(
    operator=st.sampled_from(
        ["exact", "is_not", "icontains", "not_icontains", "gt", "lte", "starts_with"]
    ),
    value=JSON,
    actual=JSON,
)
def test_local_evaluation_agrees_with_the_server_when_the_property_is_there(
    operator: str, value: Any, actual: Any
) -> None:
    assert match(operator, value, actual, partial=True) == match(operator, value, actual)


@settings(max_examples=200, deadline=None)
@given(value=JSON, actual=JSON)
def test_the_not_forms_are_complements_when_the_property_is_there(value: Any, actual: Any) -> None:
    for positive in ("exact", "icontains", "starts_with", "ends_with", "icontains_multi"):
        negative = "is_not" if positive == "exact" else f"not_{positive}"
        if value is not None:
            assert match(positive, value, actual) is not match(negative, value, actual)


def test_float_text_edge_cases_do_not_raise() -> None:
    assert match("exact", "null", math.nan) is True  # NaN cannot be JSON: the service sees null
    assert match("gt", 0, math.inf) is False
