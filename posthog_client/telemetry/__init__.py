"""Telemetry in your own CLI or desktop app, with the conventions users expect.

``DO_NOT_TRACK`` and an app-named off switch (``MYTOOL_TELEMETRY_DISABLED``), ``mytool
telemetry status|enable|disable``, a first-run notice versioned by date that is shown before
anything is sent, no person per CI run, ``MYTOOL_TELEMETRY_DEBUG`` to print events instead of
sending them, storage in the app's own data folder, and an exit that never waits on the
network::

    from posthog_client.telemetry import Telemetry, add_telemetry_command

    telemetry = Telemetry("mytool", api_key="phc_...", host="https://eu.i.posthog.com",
                          notice_version="2026-11-30")
    parser = argparse.ArgumentParser(prog="mytool")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build")
    add_telemetry_command(commands, telemetry)       # mytool telemetry status|enable|disable
    args = parser.parse_args()
    if args.command == "telemetry":
        sys.exit(args.func(args))
    telemetry.capture("build_started")                 # the first run shows the notice instead
"""

from __future__ import annotations

from ._commands import add_telemetry_command
from ._kit import CiPolicy, Telemetry, TelemetryStatus
from ._settings import CI_VARIABLES

__all__ = ["CI_VARIABLES", "CiPolicy", "Telemetry", "TelemetryStatus", "add_telemetry_command"]
