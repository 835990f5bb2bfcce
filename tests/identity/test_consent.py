"""``consent_status()``: whether a client sends and exactly why not, strongest reason first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import posthog_client
from posthog_client import Client, ConsentStatus
from posthog_client._identity.consent import consent_status

MakeClient = Callable[..., Client]


def test_sending_by_default(make_client: MakeClient) -> None:
    status = make_client().consent_status()
    assert status == ConsentStatus(True, "sending is on")


def test_the_users_opt_out_carries_its_date_across_processes(make_client: MakeClient) -> None:
    make_client().opt_out()
    status = make_client().consent_status()  # another process of the app
    assert not status.sending and status.blocked_by == "user"
    assert status.changed_at is not None and status.changed_at.endswith("Z")
    assert status.reason == f"opted out by the user on {status.changed_at[:10]}"


def test_opt_in_returns_true_and_records_when(make_client: MakeClient) -> None:
    client = make_client()
    client.opt_out()
    assert client.opt_in() is True
    status = make_client().consent_status()
    assert status.sending and status.changed_at is not None


@pytest.mark.parametrize("variable", ["DO_NOT_TRACK", "POSTHOG_CLIENT_DISABLED"])
def test_environment_wins_and_opt_in_says_why_it_cannot(
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    storage_dir: Path,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, "1")
    client = make_client()
    assert client.opt_in() is False
    assert f"opt_in() ignored: {variable} is set in the environment" in caplog.text
    status = client.consent_status()
    assert (status.sending, status.blocked_by, status.variable) == (
        False, "environment", variable,
    )  # fmt: skip
    assert not storage_dir.exists()  # asking wrote nothing


def test_disabled_option_is_the_apps_choice(make_client: MakeClient) -> None:
    status = make_client(disabled=True).consent_status()
    assert (status.sending, status.blocked_by) == (False, "option")
    assert "disabled=True" in status.reason


def test_module_level_consent_status_before_and_after_init(storage_dir: Path) -> None:
    assert not posthog_client.consent_status().sending  # no client: nothing is sent
    posthog_client.init("phc_test", storage_dir=storage_dir, persist=False)
    assert posthog_client.consent_status().sending


# -- the rule itself, with the reasons an app's telemetry adds ----------------------------------

OPTED_OUT = (True, "2026-11-30T10:00:00Z")
OPTED_IN = (False, "2026-11-29T10:00:00Z")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"env_variable": "DO_NOT_TRACK", "choice": OPTED_IN}, ("environment", False)),
        ({"disabled": True, "choice": OPTED_IN}, ("option", False)),
        ({"choice": OPTED_OUT, "ci_variable": "CI"}, ("user", False)),
        ({"ci_variable": "CI", "choice": OPTED_IN}, ("ci", False)),
        ({"default": False}, ("default", False)),
        ({"default": False, "choice": OPTED_IN}, (None, True)),
        ({"notice_pending": True}, ("notice", False)),
        ({"notice_pending": True, "default": False}, ("default", False)),
        ({}, (None, True)),
    ],
)
def test_the_strongest_reason_wins(arguments: dict[str, Any], expected: tuple[Any, bool]) -> None:
    arguments = {"env_variable": None, "disabled": False, "choice": None, **arguments}
    status = consent_status(
        arguments.pop("env_variable"), arguments.pop("disabled"), arguments.pop("choice"),
        **arguments,
    )  # fmt: skip
    assert (status.blocked_by, status.sending) == expected
    assert status.reason


def test_an_opt_in_says_when() -> None:
    assert consent_status(None, False, OPTED_IN).reason == "opted in by the user on 2026-11-29"
