"""Development overrides: the environment variable and override_feature_flags() arguments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_client import ConfigurationError
from posthog_client._flagclient.overrides import ENV_VAR, from_environment, overrides_from


def test_environment_entries_are_keys_booleans_or_variants() -> None:
    found = from_environment({ENV_VAR: "new-ui, beta=false,checkout=v2 ,on=TRUE,,bad="})
    assert found.values == {"new-ui": True, "beta": False, "checkout": "v2", "on": True}


@given(st.text())
def test_any_environment_value_gives_overrides_without_raising(text: str) -> None:
    for key, value in from_environment({ENV_VAR: text}).values.items():
        assert key and value != ""


def test_call_arguments_take_a_dict_or_a_list_of_keys() -> None:
    assert overrides_from({"a": "x", "b": False}, None, strict=True).values == {
        "a": "x",
        "b": False,
    }
    assert overrides_from(["a", "b"], {"a": [1]}, strict=True) == (
        {"a": True, "b": True},
        {"a": [1]},
    )
    assert not overrides_from(None, None, strict=True)


def test_a_wrong_entry_is_left_out_or_raises_in_strict_mode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert overrides_from({"a": 3, "b": True}, None, strict=False).values == {"b": True}  # type: ignore[dict-item]
    assert "not True, False or a variant" in caplog.text
    with pytest.raises(ConfigurationError):
        overrides_from("a", None, strict=True)
