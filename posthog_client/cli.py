"""The ``posthog-client`` command.

``posthog-client serve`` runs the local reference server: PostHog's ingestion API and
person-merge rules on SQLite, for development, demos and CI (see ``posthog_client.server``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    from .server._serve import DESCRIPTION, add_serve_arguments, serve

    parser = argparse.ArgumentParser(prog="posthog-client", description="The posthog-client tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser(
        "serve", help="run the local PostHog reference server", description=DESCRIPTION
    )
    add_serve_arguments(serve_parser)
    args = parser.parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
