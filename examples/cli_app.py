"""A command-line app instrumented the way PostHog's identity docs describe.

Each run is a separate process sharing one on-disk identity:

    posthog-client serve &                       # the local reference server, port 8010
    python examples/cli_app.py open notes.txt    # anonymous usage
    python examples/cli_app.py login alice       # signup/login -> identify (merges the history)
    python examples/cli_app.py open todo.txt     # attributed to alice
    python examples/cli_app.py logout            # reset(): the next user starts anonymous
    python examples/cli_app.py whoami

Set POSTHOG_HOST / POSTHOG_API_KEY to send somewhere else; DO_NOT_TRACK=1 turns it all off.
"""

from __future__ import annotations

import argparse
import os

import posthog_client as posthog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cli_app", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("open").add_argument("path")
    commands.add_parser("login").add_argument("user")
    commands.add_parser("logout")
    commands.add_parser("whoami")
    args = parser.parse_args(argv)

    posthog.init(
        os.environ.get("POSTHOG_API_KEY", "phc_local"),
        host=os.environ.get("POSTHOG_HOST", "http://127.0.0.1:8010"),
    )
    posthog.register({"app": "cli_app", "app_version": "1.0"})  # on every event from now on
    if args.command == "open":
        posthog.capture("file_opened", {"extension": os.path.splitext(args.path)[1]})
        print(f"opened {args.path}")
    elif args.command == "login":
        posthog.identify(args.user, {"login_method": "password"})  # once per session is enough
        posthog.capture("logged_in")
        print(f"logged in as {args.user}")
    elif args.command == "logout":
        posthog.capture("logged_out")
        posthog.reset()  # unlink this device from the user: shared machines stay separate
        print("logged out")
    state = "identified" if posthog.is_identified() else "anonymous"
    print(f"distinct id: {posthog.get_distinct_id()} ({state})")
    posthog.shutdown()  # at most shutdown_timeout_s; whatever is unsent waits on disk
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
