"""The ``posthog-client`` command (also ``python -m posthog_client``).

``posthog-client serve`` runs the local reference server: PostHog's ingestion API and
person-merge rules on SQLite, for development, demos and CI (see ``posthog_client.server``).
``status``, ``capture``, ``identify``, ``reset`` and ``flush`` work on the identity and queue
the SDK keeps on this machine (``posthog_client._cli``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
from collections.abc import Sequence
from types import FrameType

from ._cli.commands import add_client_commands, run
from ._cli.status import add_status_command
from ._version import __version__

__all__ = ["main"]

_DEFAULT_PORT = 8010


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = argparse.ArgumentParser(prog="posthog-client", description="The posthog-client tools.")
    parser.add_argument("--version", action="version", version=f"posthog-client {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the local PostHog reference server",
        description="Serve PostHog's ingestion API (/batch/, /capture/, /e/, /i/v0/e/, /track/) "
        "with PostHog's person-merge rules on SQLite, and a JSON query API "
        "(/api/persons, /api/events, /api/ingestion_warnings). Stop it with Ctrl-C.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--port",
        type=_port,
        default=_DEFAULT_PORT,
        help=f"port, 0 for any free one (default: {_DEFAULT_PORT})",
    )
    serve.add_argument(
        "--db", metavar="PATH", help="SQLite file to keep the data in (default: memory)"
    )
    serve.add_argument(
        "--api-key",
        help="the project key to accept (default: $POSTHOG_API_KEY, else phc_local)",
    )
    serve.add_argument(
        "--shuffle",
        action="store_true",
        help="process each request's distinct ids in random order, as PostHog may",
    )
    serve.add_argument("--verbose", action="store_true", help="log every request to stderr")
    add_status_command(commands)
    add_client_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return run(parser, args)


def _serve(args: argparse.Namespace) -> int:
    from .server import DEFAULT_API_KEY, LocalServer

    api_key = args.api_key or os.environ.get("POSTHOG_API_KEY") or DEFAULT_API_KEY
    try:
        server = LocalServer(
            api_key,
            host=args.host,
            port=args.port,
            db_path=args.db,
            shuffle=args.shuffle,
            log_requests=args.verbose,
        )
    except sqlite3.Error as exc:
        print(f"posthog-client: cannot open the database {args.db}: {exc}", file=sys.stderr)
        return 1
    try:
        server.start()
    except OSError as exc:
        server.stop()
        print(f"posthog-client: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    where = (
        f"in {os.path.abspath(args.db)}" if args.db else "in memory only (use --db PATH to keep it)"
    )
    print(
        f"posthog-client: local PostHog server listening on {server.url} "
        f"(project key {api_key!r}); data kept {where}. Press Ctrl-C to stop.",
        flush=True,
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)  # stop as cleanly on SIGTERM as on Ctrl-C
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    print("posthog-client: stopped.", flush=True)
    return 0


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
