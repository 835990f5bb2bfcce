"""``<app> telemetry status|enable|disable`` for argparse and click apps, with the texts users
know from Next.js, Astro and Homebrew."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import argparse

    from ._kit import Telemetry, TelemetryStatus

__all__ = ["add_telemetry_command", "describe", "run_telemetry_action"]

ACTIONS: Final = ("status", "enable", "disable")
_HELP: Final = "show or change whether anonymous usage data (telemetry) is sent"


def add_telemetry_command(parser: Any, telemetry: Telemetry, *, name: str = "telemetry") -> Any:
    """Add ``<name> status|enable|disable`` (status when no action is given) to an app's CLI.

    ``parser`` is an ``argparse.ArgumentParser`` (its subcommands are used, or created with
    ``dest="command"``), the object its ``add_subparsers()`` returned, or a ``click.Group``.
    With argparse, the parsed arguments of the command carry ``func``: ``args.func(args)`` runs
    it and returns the exit status. Returns the new subparser, or the click group.

    Example::

        parser = argparse.ArgumentParser(prog="mytool")
        commands = parser.add_subparsers(dest="command", required=True)
        add_telemetry_command(commands, telemetry)
        args = parser.parse_args()
        if args.command == "telemetry":
            sys.exit(args.func(args))
    """
    click = sys.modules.get("click")  # a click app has imported it; never import it ourselves
    if click is not None and isinstance(parser, click.Group):
        return _add_click_group(parser, telemetry, name)
    return _add_argparse_command(parser, telemetry, name)


def _add_argparse_command(parser: Any, telemetry: Telemetry, name: str) -> argparse.ArgumentParser:
    import argparse

    if isinstance(parser, argparse.ArgumentParser):
        found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        subcommands = found[0] if found else parser.add_subparsers(dest="command")
    elif isinstance(parser, argparse._SubParsersAction):
        subcommands = parser
    else:
        raise TypeError(f"expected an argparse parser or a click group, not {parser!r}")
    command = subcommands.add_parser(
        name, help=_HELP, description=f"{_HELP.capitalize()}: {', '.join(ACTIONS)}."
    )
    actions = command.add_subparsers(dest="telemetry_action", metavar="ACTION")
    actions.add_parser("status", help="say whether telemetry is on, and why")
    actions.add_parser("enable", help="turn telemetry on")
    actions.add_parser("disable", help="turn telemetry off: nothing more is sent")

    def run(args: argparse.Namespace) -> int:
        action = getattr(args, "telemetry_action", None) or "status"
        return run_telemetry_action(telemetry, action, command.prog)

    command.set_defaults(func=run)
    return command


def _add_click_group(group: Any, telemetry: Telemetry, name: str) -> Any:
    import click

    @click.group(name=name, help=_HELP.capitalize() + ".", invoke_without_command=True)
    @click.pass_context
    def telemetry_group(ctx: click.Context) -> None:
        if ctx.invoked_subcommand is None:
            ctx.exit(run_telemetry_action(telemetry, "status", ctx.command_path))

    for action in ACTIONS:

        def command(action: str = action) -> None:
            ctx = click.get_current_context()
            prog = ctx.parent.command_path if ctx.parent else ctx.command_path
            ctx.exit(run_telemetry_action(telemetry, action, prog))

        telemetry_group.command(name=action, help=f"{action} telemetry")(command)
    group.add_command(telemetry_group)
    return telemetry_group


def run_telemetry_action(telemetry: Telemetry, action: str, prog: str) -> int:
    """Run ``status``, ``enable`` or ``disable``, print what users expect, return the status.

    ``prog`` is how the user calls the telemetry command (``mytool telemetry``), for hints.
    """
    if action == "enable":
        on = telemetry.enable()
        status = telemetry.status()
        if on:
            print(f"Telemetry is enabled. Thank you for helping improve {telemetry.app}!")
            return 0
        print(f"Telemetry stays disabled: {_why(status, telemetry)}.")
        return 1 if status.consent.blocked_by == "environment" else 0
    if action == "disable":
        telemetry.disable()
        print(
            "Telemetry is disabled. Nothing more will be sent; the anonymous id and any unsent "
            "events were deleted."
        )
        return 0
    print(describe(telemetry.status(), telemetry, prog))
    return 0


def describe(status: TelemetryStatus, telemetry: Telemetry, prog: str) -> str:
    """The text of ``<app> telemetry status``."""
    consent = status.consent
    if status.enabled:
        lines = ["Telemetry is enabled."]
        if consent.blocked_by == "notice":
            lines.append(
                "  The notice has not been shown yet: the next run in a terminal shows it, "
                "and sends nothing."
            )
        lines.append(f"  Anonymous id: {status.distinct_id or status.anonymous_id or 'none yet'}")
        lines.append(f"  Data is kept in: {status.data_dir}")
        lines.append(
            f"  To opt out, run `{prog} disable`, or set {telemetry.disable_variable}=1 "
            "(DO_NOT_TRACK=1 works too)."
        )
    else:
        lines = [f"Telemetry is disabled: {_why(status, telemetry)}."]
        if consent.blocked_by in ("user", "default"):
            lines.append(f"  To turn it on, run `{prog} enable`.")
        elif consent.blocked_by == "environment":
            lines.append(f"  Nothing is sent or written while {consent.variable} is set.")
    if status.debug:
        lines.append(f"  {telemetry.debug_variable} is set: events are printed, not sent.")
    return "\n".join(lines)


def _why(status: TelemetryStatus, telemetry: Telemetry) -> str:
    consent = status.consent
    if consent.blocked_by == "environment":
        return f"{consent.variable} is set in the environment"
    if consent.blocked_by == "user":
        when = f" on {consent.changed_at[:10]}" if consent.changed_at else ""
        return f"you turned it off{when}"
    if consent.blocked_by == "ci":
        return f"this is a CI run ({consent.variable} is set), and CI runs are not counted"
    if consent.blocked_by == "default":
        return f"{telemetry.app} sends nothing unless you turn it on"
    return consent.reason
