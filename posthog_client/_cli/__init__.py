"""The ``posthog-client`` command's subcommands besides ``serve`` (``cli.py`` builds the parser).

Holds the commands that act on a project's persisted identity and queue (``commands``: capture,
identify, reset, flush), what ``status`` reads and prints (``status``), and the arguments they
share (``options``).

May import: the shared leaves, ``_config``, the client, ``_identity`` and ``_delivery`` (read-only
reports), and ``telemetry`` (where an app's telemetry keeps its data). Never ``cli`` or the
server.
"""

from __future__ import annotations
