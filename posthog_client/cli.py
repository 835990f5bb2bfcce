"""The ``posthog-client`` command (also ``python -m posthog_client``).

``posthog-client serve`` runs the local reference server: PostHog's ingestion API and
person-merge rules on SQLite, for development, demos and CI (see ``posthog_client.server``).
``status``, ``capture``, ``identify``, ``reset`` and ``flush`` work on the identity and queue
the SDK keeps on this machine (``posthog_client._cli``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._cli.commands import add_client_commands, run
from ._cli.status import add_status_command
from ._version import __version__

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    from .server._serve import DESCRIPTION, add_serve_arguments, serve

    parser = argparse.ArgumentParser(prog="posthog-client", description="The posthog-client tools.")
    parser.add_argument("--version", action="version", version=f"posthog-client {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser(
        "serve", help="run the local PostHog reference server", description=DESCRIPTION
    )
    add_serve_arguments(serve_parser)
    add_status_command(commands)
    add_client_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return run(parser, args)


if __name__ == "__main__":
    sys.exit(main())
