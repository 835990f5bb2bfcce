"""What an app's telemetry reads from the machine: its variable names, CI, its folder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_client.telemetry._settings import CI_VARIABLES, ci_variable, env_name


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        ("mytool", "MYTOOL_X"),
        ("my-tool", "MY_TOOL_X"),
        ("my.tool_2", "MY_TOOL_2_X"),
        ("7zip", "_7ZIP_X"),
    ],
)
def test_an_apps_variables_are_named_after_it(app: str, expected: str) -> None:
    assert env_name(app, "X") == expected


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]*", fullmatch=True))
def test_every_valid_app_name_gives_a_name_shells_accept(app: str) -> None:
    name = env_name(app, "TELEMETRY_DISABLED")
    assert name.replace("_", "a").isalnum() and not name[0].isdigit()


@pytest.mark.parametrize("name", ["CI", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "TF_BUILD"])
def test_well_known_ci_variables_are_recognised(name: str) -> None:
    assert name in CI_VARIABLES
    assert ci_variable({name: "true"}) == name


@pytest.mark.parametrize("value", ["", "0", "false", "False"])
def test_ci_set_to_false_is_not_ci(value: str) -> None:
    assert ci_variable({"CI": value}) is None
    assert ci_variable({}) is None
