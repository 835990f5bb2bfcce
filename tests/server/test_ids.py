"""How the server reads distinct ids: String() of merge ids, capture's normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_client.server._ids import js_string, normalize_captured_distinct_id


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("abc", "abc"),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (-7, "-7"),
        (1.0, "1"),
        (1.5, "1.5"),
        (1e21, "1e+21"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        ([], ""),
        (["a", 1, None, True], "a,1,,true"),
        ({"a": 1}, "[object Object]"),
    ],
)
def test_js_string_matches_javascript(value: object, text: str) -> None:
    assert js_string(value) == text


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("user", "user"),
        (" user ", " user "),
        (7, "7"),
        (False, "false"),
        ({"k": [1, "ü"]}, '{"k":[1,"ü"]}'),
        ("\x00", "\ufffd"),
        ("y" * 201, "y" * 200),
        (None, None),
        ("", None),
        (" \t\n", None),
    ],
)
def test_captured_distinct_id_normalisation(value: object, normalized: str | None) -> None:
    assert normalize_captured_distinct_id(value) == normalized


# String(x) for these, as node 20 prints them.
_JS_NUMBERS = [
    (1e-7, "1e-7"), (1e-6, "0.000001"), (1.2345678901234568e20, "123456789012345680000"),
    (1e21, "1e+21"), (123.0, "123"), (0.5, "0.5"), (-0.000123, "-0.000123"),
    (1.5e300, "1.5e+300"), (5e-324, "5e-324"), (100.25, "100.25"), (1e20, "100000000000000000000"),
    (-0.0, "0"), (2.5e-7, "2.5e-7"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "text"), _JS_NUMBERS)
def test_js_string_of_a_float_is_javascripts(value: float, text: str) -> None:
    assert js_string(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_js_string_of_any_float_reads_back_as_the_same_number(value: float) -> None:
    text = js_string(value)
    assert float(text) == value
    assert "e+0" not in text and "e-0" not in text  # JavaScript pads no exponent
