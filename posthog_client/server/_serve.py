"""``posthog-client serve``: the local server from a shell, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
from types import FrameType
from typing import Final

from .._exceptions import ConfigurationError
from ._access import is_loopback
from ._local import DEFAULT_API_KEY, IDENTITY_MODES, LocalServer
from .mixpanel import ServiceAccount

__all__ = ["DESCRIPTION", "add_serve_arguments", "serve"]

DESCRIPTION: Final = (
    "Serve PostHog's ingestion API (/batch/, /capture/, /e/, /i/v0/e/, /track/, "
    "/i/v1/analytics/events) with PostHog's person-merge rules on SQLite, feature flags "
    "(/flags, /flags/definitions) from --flags, a JSON query API (/api/persons, /api/events, "
    "/api/ingestion_warnings) and a person explorer for the browser (/). With --identity "
    "mixpanel-*: Mixpanel's ingestion API (/track, /import, /engage, /groups) with that ID-merge "
    "model instead. Stop it with Ctrl-C."
)
_DEFAULT_PORT: Final = 8010


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``serve``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=_port,
        default=_DEFAULT_PORT,
        help=f"port, 0 for any free one (default: {_DEFAULT_PORT})",
    )
    parser.add_argument(
        "--db", metavar="PATH", help="SQLite file to keep the data in (default: memory)"
    )
    parser.add_argument(
        "--api-key",
        help="the project key to accept (default: $POSTHOG_API_KEY, else phc_local)",
    )
    parser.add_argument(
        "--personal-api-key",
        metavar="KEY",
        help="key the query API and the explorer require (default: "
        "$POSTHOG_PERSONAL_API_KEY; a random one when --host is not a loopback address)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another Host name the query API and the explorer answer to (repeatable; "
        "'*' for any): e.g. a docker service name",
    )
    parser.add_argument(
        "--shuffle",
        action="store_true",
        help="process each request's distinct ids in random order, as PostHog may",
    )
    parser.add_argument(
        "--flags",
        metavar="FILE",
        help="feature flags to answer /flags with: a JSON file of definitions (PostHog's "
        '/flags/definitions shape) or of values ({"new-ui": true, "checkout": "v2"}); '
        "re-read when it changes",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--identity",
        choices=IDENTITY_MODES,
        default="posthog",
        help="resolve identities as PostHog does (default), or serve Mixpanel's ingestion API "
        "with the given ID-merge model",
    )
    parser.add_argument(
        "--service-account",
        type=_service_account,
        metavar="USER:SECRET:PROJECT_ID",
        help="a Mixpanel service account /import accepts (merge_dangerously needs one)",
    )


def serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted; returns the exit status."""
    if args.identity == "posthog":
        api_key = args.api_key or os.environ.get("POSTHOG_API_KEY") or DEFAULT_API_KEY
    else:
        api_key = args.api_key  # None: the Mixpanel emulation's own default token
    personal_key = args.personal_api_key or os.environ.get("POSTHOG_PERSONAL_API_KEY") or None
    try:
        server = LocalServer(
            api_key,
            host=args.host,
            port=args.port,
            db_path=args.db,
            shuffle=args.shuffle,
            log_requests=args.verbose,
            personal_api_key=personal_key,
            allowed_hosts=args.allowed_host,
            flags=args.flags,
            identity=args.identity,
            service_account=args.service_account,
        )
    except sqlite3.Error as exc:
        print(f"posthog-client: cannot open the database {args.db}: {exc}", file=sys.stderr)
        return 1
    except ConfigurationError as exc:
        print(f"posthog-client: {exc}", file=sys.stderr)
        return 1
    try:
        server.start()
    except OSError as exc:
        server.stop()
        print(f"posthog-client: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    previous = signal.signal(signal.SIGTERM, _interrupt)  # stop as cleanly on SIGTERM as on Ctrl-C
    try:  # a signal right after the announcement (a script that read it) still stops cleanly
        _announce(server, args.db)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    print("posthog-client: stopped.", flush=True)
    return 0


def _announce(server: LocalServer, db: str | None) -> None:
    where = f"in {os.path.abspath(db)}" if db else "in memory only (use --db PATH to keep it)"
    if server.identity == "posthog":
        what, key = "PostHog server", f"project key {server.api_key!r}"
    else:
        model = server.mixpanel.model_name
        what, key = f"Mixpanel server ({model} ID merge)", f"project token {server.api_key!r}"
    print(
        f"posthog-client: local {what} listening on {server.url} ({key}); data kept {where}. "
        "Press Ctrl-C to stop.",
        flush=True,
    )
    print(f"posthog-client: person explorer: {server.explorer_url}", flush=True)
    flags = len(server.flags.document()["flags"])
    if flags:
        print(f"posthog-client: serving {flags} feature flags at /flags", flush=True)
    if server.personal_api_key is not None:
        why = "it is set" if is_loopback(server.host) else f"{server.host} is not loopback only"
        print(
            f"posthog-client: the query API and the explorer require the personal API key "
            f"({why}): send 'Authorization: Bearer {server.personal_api_key}' or open the "
            "explorer link above. Ingestion needs only the project key.",
            flush=True,
        )


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def _service_account(text: str) -> ServiceAccount:
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError("expected USER:SECRET:PROJECT_ID")
    return ServiceAccount(*parts)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
