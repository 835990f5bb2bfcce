"""``consent_status()``: whether a client sends and exactly why not, strongest reason first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import posthog_client
from posthog_client import Client, ConsentStatus

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
