"""``mytool telemetry status|enable|disable``, added to argparse and click apps, with the texts
users know from other CLIs: on or off, exactly why, and what to do about it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from posthog_client.telemetry import Telemetry, add_telemetry_command

from .conftest import MakeTelemetry


def app_parser(telemetry: Telemetry, shape: str) -> argparse.ArgumentParser:
    """The three ways an argparse app may hand over its parser."""
    parser = argparse.ArgumentParser(prog="mytool")
    if shape == "subparsers":
        commands = parser.add_subparsers(dest="command")
        commands.add_parser("build")
        add_telemetry_command(commands, telemetry)
    elif shape == "parser with subcommands":
        parser.add_subparsers(dest="command").add_parser("build")
        add_telemetry_command(parser, telemetry)
    else:
        add_telemetry_command(parser, telemetry)
    return parser


def run(
    parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str]:
    args = parser.parse_args(argv)
    code = args.func(args)
    return code, capsys.readouterr().out


@pytest.mark.parametrize("shape", ["subparsers", "parser with subcommands", "bare parser"])
def test_status_disable_enable_round_trip(
    make_telemetry: MakeTelemetry, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    make_telemetry().start()  # the notice's run
    telemetry = make_telemetry()
    telemetry.capture("build")
    parser = app_parser(telemetry, shape)
    code, out = run(parser, capsys, "telemetry")  # no action: status
    assert code == 0 and out.startswith("Telemetry is enabled.\n")
    assert f"Anonymous id: {telemetry.status().anonymous_id}" in out
    assert f"Data is kept in: {telemetry.data_dir}" in out
    assert "To opt out, run `mytool telemetry disable`, or set MYTOOL_TELEMETRY_DISABLED=1" in out
    code, out = run(parser, capsys, "telemetry", "disable")
    assert code == 0 and out.startswith("Telemetry is disabled. Nothing more will be sent")
    code, out = run(parser, capsys, "telemetry", "status")
    assert re.fullmatch(
        r"Telemetry is disabled: you turned it off on \d{4}-\d\d-\d\d\.\n"
        r"  To turn it on, run `mytool telemetry enable`\.\n",
        out,
    )
    code, out = run(parser, capsys, "telemetry", "enable")
    assert (code, out) == (0, "Telemetry is enabled. Thank you for helping improve mytool!\n")


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("DO_NOT_TRACK", "Telemetry is disabled: DO_NOT_TRACK is set in the environment."),
        ("MYTOOL_TELEMETRY_DISABLED", "disabled: MYTOOL_TELEMETRY_DISABLED is set in the"),
        (
            "BUILDKITE",
            "disabled: this is a CI run (BUILDKITE is set), and CI runs are not counted.",
        ),
    ],
)
def test_status_names_the_variable_that_turns_it_off(
    make_telemetry: MakeTelemetry,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, "true")
    parser = app_parser(make_telemetry(), "subparsers")
    assert expected in run(parser, capsys, "telemetry", "status")[1]


def test_enable_under_do_not_track_says_it_stays_off_and_fails(
    make_telemetry: MakeTelemetry,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    parser = app_parser(make_telemetry(), "subparsers")
    code, out = run(parser, capsys, "telemetry", "enable")
    assert code == 1
    assert out == "Telemetry stays disabled: DO_NOT_TRACK is set in the environment.\n"


def test_an_opt_in_app_says_how_to_turn_it_on_and_a_pending_notice_is_mentioned(
    make_telemetry: MakeTelemetry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    parser = app_parser(make_telemetry(enabled_by_default=False), "subparsers")
    out = run(parser, capsys, "telemetry", "status")[1]
    assert out.startswith("Telemetry is disabled: mytool sends nothing unless you turn it on.")
    assert "run `mytool telemetry enable`" in out
    fresh = app_parser(make_telemetry(data_dir=tmp_path / "fresh"), "subparsers")
    out = run(fresh, capsys, "telemetry", "status")[1]
    assert "The notice has not been shown yet" in out and "Anonymous id: none yet" in out


def test_the_debug_variable_is_mentioned(
    make_telemetry: MakeTelemetry,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MYTOOL_TELEMETRY_DEBUG", "1")
    out = run(app_parser(make_telemetry(), "subparsers"), capsys, "telemetry")[1]
    assert "MYTOOL_TELEMETRY_DEBUG is set: events are printed, not sent." in out


def test_an_unknown_parser_is_refused(make_telemetry: MakeTelemetry) -> None:
    with pytest.raises(TypeError, match="argparse parser or a click group"):
        add_telemetry_command(object(), make_telemetry())


def test_a_click_group_gets_the_same_commands(
    make_telemetry: MakeTelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    click = pytest.importorskip("click")
    from click.testing import CliRunner

    @click.group(name="mytool")
    def cli() -> None:
        """mytool."""

    telemetry = make_telemetry()
    add_telemetry_command(cli, telemetry)
    runner = CliRunner()
    result = runner.invoke(cli, ["telemetry"])
    assert result.exit_code == 0 and result.output.startswith("Telemetry is enabled.")
    assert "`mytool telemetry disable`" in result.output
    result = runner.invoke(cli, ["telemetry", "disable"])
    assert result.exit_code == 0 and "Telemetry is disabled." in result.output
    result = runner.invoke(cli, ["telemetry", "status"])
    assert "you turned it off on" in result.output
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    assert runner.invoke(cli, ["telemetry", "enable"]).exit_code == 1
