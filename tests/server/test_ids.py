"""How the server reads distinct ids: String() of merge ids, capture's normalisation."""

from __future__ import annotations

import pytest

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
