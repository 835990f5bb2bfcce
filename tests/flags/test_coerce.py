"""How property values read as text, numbers and booleans (flags-spec E10)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_client._flags._coerce import ascii_lower, boolish, json_text, text, to_float, truthy


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (123, "123"),
        (-7, "-7"),
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (123.456, "123.456"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e16"),  # serde_json (ryu) switches to exponents where Python's repr does not
        (1.5e-7, "1.5e-7"),
        (1e-6, "1e-6"),
        (0.0001, "0.0001"),
        (0.00001, "0.00001"),
        (1.5e300, "1.5e300"),
        (12345678901234567890.0, "1.2345678901234567e19"),
        (math.nan, "null"),
        ([1, "a", None, True, {"b": 1.5}], '[1,"a",null,true,{"b":1.5}]'),
        ({"z": 1, "a": "é\n"}, '{"a":"é\\n","z":1}'),
    ],
)
def test_json_text_matches_serde_json(value: Any, expected: str) -> None:
    assert json_text(value) == expected


def test_text_keeps_strings_as_they_are() -> None:
    assert text('a "quoted" é') == 'a "quoted" é'
    assert text(5) == "5"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1e5", 100000.0),
        ("+.5", 0.5),
        ("5.", 5.0),
        ("-Infinity", -math.inf),
        ("inf", math.inf),
        (7, 7.0),
        (2.5, 2.5),
        (" 5", None),
        ("1_0", None),
        ("", None),
        ("\u0663", None),  # an Arabic-Indic digit: Python's float() reads it, Rust does not
        ("\u0131nf", None),  # dotless i: no Unicode case folding either
        ("0x10", None),
        (True, None),
        (None, None),
        (10**400, None),
        (math.inf, None),
    ],
)
def test_to_float_follows_rusts_grammar(value: Any, expected: float | None) -> None:
    assert to_float(value) == expected


def test_nan_strings_parse_as_nan() -> None:
    parsed = to_float("NaN")
    assert parsed is not None and math.isnan(parsed)


@pytest.mark.parametrize(
    ("value", "is_truthy", "is_boolish"),
    [
        (True, True, True),
        (False, False, True),
        ("TRUE", True, True),
        ("False", False, True),
        ("yes", False, False),
        (1, False, False),
        (["true", True], True, True),
        (["true", "x"], False, False),
        ([], True, True),
        (None, False, False),
    ],
)
def test_truthiness(value: Any, is_truthy: bool, is_boolish: bool) -> None:
    assert truthy(value) is is_truthy
    assert boolish(value) is is_boolish


def test_ascii_lower_folds_only_ascii_letters() -> None:
    assert ascii_lower("ÄBC") == "Äbc"
    assert ascii_lower("ABC") == "abc"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_round_trips(value: float) -> None:
    rendered = json_text(value)
    assert float(rendered) == value
    assert "+" not in rendered and "e-0" not in rendered  # ryu writes 1e-7, never 1e-07
