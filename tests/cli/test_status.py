"""``posthog-client status``: what is kept on this machine, for a storage dir or an app, read
without changing anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posthog_client import Client, cli
from posthog_client.telemetry import Telemetry
from posthog_client.testing import MemoryBackend


def status(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(["status", *argv]) == 0
    return capsys.readouterr().out


def test_a_storage_dir_shows_identity_session_consent_and_queue(
    storage_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Client("phc_a", storage_dir=storage_dir, backend=MemoryBackend()) as client:
        client.capture("opened")
        client.identify("alice")
        anonymous = client._store.current().anon_id
        client.opt_out()
    text = status(capsys, "--dir", str(storage_dir))
    assert f"storage: {storage_dir}" in text
    assert "distinct id:   alice (identified)" in text
    assert f"anonymous id:  {anonymous}" in text
    assert "(last active 0 s ago)" in text
    assert "consent:       not sending (opted out by the user on " in text
    assert "queued events: 0" in text and "last delivery error: none" in text


def test_api_key_picks_one_project_and_missing_data_is_said_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing-here"
    assert "no project data here yet" in status(capsys, "--dir", str(missing))
    report = json.loads(status(capsys, "--dir", str(missing), "--api-key", "phc_x", "--json"))
    assert report["projects"] == []
    assert not missing.exists()


def test_an_apps_telemetry_folder_shows_the_apps_consent_and_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    telemetry = Telemetry("mytool", api_key="phc_tool", backend=MemoryBackend(),
                          show_notice=lambda text: None, notice_version="2026-11-30")  # fmt: skip
    telemetry.capture("first_run")  # shows the notice, sends nothing
    assert telemetry.capture("second") is None  # still the notice's run
    telemetry.enable()
    report = json.loads(status(capsys, "--app", "mytool", "--json"))
    assert report["storage"] == str(telemetry.data_dir)
    assert report["app"]["notice_version_shown"] == "2026-11-30"
    assert report["app"]["consent"]["sending"]
    telemetry.disable()
    text = status(capsys, "--app", "mytool")
    assert "app mytool: not sending (opted out by the user on " in text
    assert "notice: version 2026-11-30 shown" in text
    monkeypatch.setenv("MYTOOL_TELEMETRY_DISABLED", "1")
    assert "MYTOOL_TELEMETRY_DISABLED is set in the environment" in status(
        capsys, "--app", "mytool"
    )
