"""Arguments the ``posthog-client`` subcommands share, and how they become a ``Client``."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from .._client import Client
from .._exceptions import ConfigurationError

__all__ = ["add_project_arguments", "client_from", "parse_property", "seconds"]


def add_project_arguments(parser: argparse.ArgumentParser) -> None:
    """``--api-key``, ``--host`` and ``--dir``, each falling back to its ``POSTHOG_*``
    variable, as the SDK does."""
    parser.add_argument("--api-key", help="the project key (default: $POSTHOG_API_KEY)")
    parser.add_argument(
        "--host", help="where events go (default: $POSTHOG_HOST, else PostHog Cloud US)"
    )
    parser.add_argument(
        "--dir",
        metavar="PATH",
        help="the storage dir (default: $POSTHOG_CLIENT_DIR, else the user data dir)",
    )


def client_from(args: argparse.Namespace, **options: Any) -> Client:
    """The client of the project ``args`` name; strict, so bad input is an error, not a log."""
    if not (args.api_key or os.environ.get("POSTHOG_API_KEY")):
        raise ConfigurationError("no project key: pass --api-key KEY or set POSTHOG_API_KEY")
    return Client(args.api_key, host=args.host, storage_dir=args.dir, strict=True, **options)


def parse_property(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` (a string) or ``KEY:=JSON`` (a number, boolean, null, list or object)."""
    key, found, value = text.partition("=")  # the first "=" ends the name: values may hold "="
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE or KEY:=JSON")
    is_json = key.endswith(":")
    key = key[:-1] if is_json else key
    if not key:
        raise argparse.ArgumentTypeError(f"{text!r} has no property name before '='")
    if not is_json:
        return key, value
    try:
        return key, json.loads(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {value!r} is not JSON") from None


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value
