"""notes: a small command-line notes app with usage telemetry done the way users expect.

    python examples/cli_app.py add "buy milk"     # the first run shows the telemetry notice
    python examples/cli_app.py list
    python examples/cli_app.py login alice        # identify: this install's history joins alice
    python examples/cli_app.py logout             # reset: the next user starts anonymous
    python examples/cli_app.py telemetry status   # on or off, and exactly why
    python examples/cli_app.py telemetry disable  # nothing more is sent; the id is deleted

Telemetry goes to CLI_APP_TELEMETRY_HOST (default: `posthog-client serve` on
http://127.0.0.1:8010); a real app hard-codes its project key and host. It is off with
DO_NOT_TRACK=1, CLI_APP_TELEMETRY_DISABLED=1, `telemetry disable`, or in CI, and
CLI_APP_TELEMETRY_DEBUG=1 prints the events instead of sending them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import platformdirs

from posthog_client.telemetry import Telemetry, add_telemetry_command

APP = "cli_app"
VERSION = "1.4.0"
NOTICE = """\
Attention: notes collects anonymous usage data: which commands run and how long notes are,
never their text. It helps decide what to improve. Nothing has been sent yet.
Opt out with `notes telemetry disable` or CLI_APP_TELEMETRY_DISABLED=1 (DO_NOT_TRACK=1 too).
Details: https://example.com/notes/telemetry"""

telemetry = Telemetry(
    APP,
    api_key="phc_local",
    host=os.environ.get("CLI_APP_TELEMETRY_HOST", "http://127.0.0.1:8010"),
    notice=NOTICE,
    notice_version="2026-11-30",  # change it when what is collected changes: shown again
    app_version=VERSION,
    capture_exceptions=True,  # a crash is reported once, then the traceback as usual
)


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def load(name: str, default: Any) -> Any:
    try:
        return json.loads((data_dir() / name).read_text())
    except FileNotFoundError:
        return default


def save(name: str, value: object) -> None:
    data_dir().mkdir(parents=True, exist_ok=True)
    (data_dir() / name).write_text(json.dumps(value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="notes", description="Keep short notes.")
    parser.add_argument("--version", action="version", version=f"notes {VERSION}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("add", help="add a note").add_argument("text")
    commands.add_parser("list", help="list the notes")
    commands.add_parser("login", help="log in").add_argument("user")
    commands.add_parser("logout", help="log out")
    commands.add_parser("whoami", help="who is logged in")
    add_telemetry_command(commands, telemetry)  # notes telemetry status|enable|disable
    args = parser.parse_args(argv)
    if args.command == "telemetry":
        return int(args.func(args))

    notes: list[str] = load("notes.json", [])
    user = load("user.json", None)
    if user:  # sends nothing once done; catches up if the login ran when nothing could be sent
        telemetry.identify(user)
    telemetry.capture("command_run", {"command": args.command})  # a first run shows the notice
    if args.command == "add":
        notes.append(args.text)
        save("notes.json", notes)
        telemetry.capture("note_added", {"length": len(args.text), "notes": len(notes)})
        print(f"added note {len(notes)}")
    elif args.command == "list":
        for number, text in enumerate(notes, 1):
            print(f"{number}. {text}")
    elif args.command == "login":
        save("user.json", args.user)
        telemetry.identify(args.user, {"notes": len(notes)})  # merges this install's history
        telemetry.capture("logged_in")
        print(f"logged in as {args.user}")
    elif args.command == "logout":
        telemetry.capture("logged_out")
        telemetry.reset()  # the next person on this machine is not this user
        (data_dir() / "user.json").unlink(missing_ok=True)
        print("logged out")
    elif args.command == "whoami":
        print(f"logged in as {user}" if user else "not logged in")
    return 0  # at exit, at most 1 s goes to sending; what is left waits on disk


if __name__ == "__main__":
    sys.exit(main())
