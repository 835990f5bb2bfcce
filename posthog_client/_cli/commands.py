"""``posthog-client capture|identify|reset|flush``: the SDK from a shell script, with the same
persisted identity, session and disk queue as the Python apps sharing its storage dir."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from .._client import Client
from .._delivery.inspect import last_error
from .._exceptions import ConfigurationError, PostHogError
from .._log import logger
from .options import add_project_arguments, client_from, parse_property, seconds

__all__ = ["add_client_commands", "run"]

_PROPERTY_HELP = "a property, repeatable: KEY=VALUE (a string) or KEY:=JSON (3, true, [1,2]…)"


def add_client_commands(commands: Any) -> None:
    """Add the subcommands to ``commands`` (what ``add_subparsers()`` returned); each parsed
    command carries ``run(args) -> exit status``."""
    capture = commands.add_parser(
        "capture",
        help="send an event as this machine's persisted identity",
        description="Queue EVENT on disk and send it (waiting at most --timeout seconds); "
        "what is not sent waits for the next run or `posthog-client flush`. Prints its uuid.",
    )
    capture.add_argument("event", metavar="EVENT")
    _add_properties(capture)
    capture.add_argument("--distinct-id", help="send as this id instead of the persisted one")
    _add_timeout(capture, 1.0, "the most spent sending before exit")
    add_project_arguments(capture)
    capture.set_defaults(run=_capture)

    identify = commands.add_parser(
        "identify",
        help="link the anonymous history to a user (login)",
        description="Send $identify once: the anonymous id's events join DISTINCT_ID's person.",
    )
    identify.add_argument("distinct_id", metavar="DISTINCT_ID")
    _add_properties(identify)
    identify.add_argument(
        "--set-once", dest="set_once", action="append", type=parse_property, default=[],
        metavar="KEY=VALUE", help="a person property set only if it has no value yet",
    )  # fmt: skip
    _add_timeout(identify, 1.0, "the most spent sending before exit")
    add_project_arguments(identify)
    identify.set_defaults(run=_identify)

    reset = commands.add_parser(
        "reset",
        help="forget the user (logout): anonymous again",
        description="Start a new anonymous id and session; sends nothing.",
    )
    reset.add_argument("--device", action="store_true", help="also start a new device id")
    add_project_arguments(reset)
    reset.set_defaults(run=_reset)

    flush = commands.add_parser(
        "flush",
        help="send what is queued on disk",
        description="Send the events earlier runs left on disk. Exits 1 if some are still queued.",
    )
    _add_timeout(flush, 10.0, "the most spent sending")
    add_project_arguments(flush)
    flush.set_defaults(run=_flush)


def _add_properties(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p", "--property", dest="properties", action="append", type=parse_property,
        default=[], metavar="KEY=VALUE", help=_PROPERTY_HELP,
    )  # fmt: skip


def _add_timeout(parser: argparse.ArgumentParser, default: float, what: str) -> None:
    parser.add_argument(
        "--timeout", type=seconds, default=default, metavar="SECONDS",
        help=f"{what} (default: {default:g})",
    )  # fmt: skip


def _not_sending(client: Client) -> bool:
    """Say so when consent keeps everything off: not an error for a script (exit 0)."""
    consent = client.consent_status()
    if not consent.sending:
        print(f"posthog-client: nothing sent: {consent.reason}", file=sys.stderr)
    return not consent.sending


def _capture(args: argparse.Namespace) -> int:
    client = client_from(args, shutdown_timeout_s=args.timeout)
    if _not_sending(client):
        return 0
    uuid = client.capture(args.event, dict(args.properties), distinct_id=args.distinct_id)
    _finish(client)
    if uuid is None:
        return 1  # why was logged
    print(uuid)
    return 0


def _identify(args: argparse.Namespace) -> int:
    client = client_from(args, shutdown_timeout_s=args.timeout)
    if _not_sending(client):
        return 0
    anonymous = None if client.is_identified() else client.get_distinct_id()
    ok = client.identify(args.distinct_id, dict(args.properties), set_once=dict(args.set_once))
    _finish(client)
    if not ok:
        return 1
    joined = f"; the history of {anonymous} joins it" if anonymous else ""
    print(f"identified as {args.distinct_id}{joined}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    client = client_from(args)
    client.reset(reset_device_id=args.device)
    print(f"anonymous again, as {client.get_distinct_id()}")
    client.shutdown(0)
    return 0


def _flush(args: argparse.Namespace) -> int:
    client = client_from(args)
    if _not_sending(client):
        return 0
    result = client.flush(args.timeout)
    client.shutdown(0)
    print(f"sent {result.sent}, still queued {result.pending}, dropped {result.dropped}")
    if result.pending:
        error = last_error(client.options.project_dir)
        if error is not None:
            print(f"posthog-client: last delivery error ({error[0]}): {error[1]}", file=sys.stderr)
        return 1
    return 0


def _finish(client: Client) -> None:
    """Send within the client's exit budget; say where the rest waits."""
    pending = client.shutdown().pending
    if pending:
        print(
            f"posthog-client: {pending} event(s) wait in {client.options.project_dir} for the "
            "next run or `posthog-client flush`",
            file=sys.stderr,
        )


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the parsed command; errors read like a CLI's, never a traceback.

    A missing or bad option (no API key, a bad host) is a usage error: ``parser.error`` exits 2.
    The SDK's warnings go to stderr while the command runs.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("posthog-client: warning: %(message)s"))
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        return int(args.run(args))
    except ConfigurationError as exc:
        parser.error(str(exc))
    except (PostHogError, OSError) as exc:
        print(f"posthog-client: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        logger.removeHandler(handler)
