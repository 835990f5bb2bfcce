"""The seam between the SDK and where events go.

A backend receives batches of finished events, each already JSON-encoded (``bytes``), so the
HTTP backend can splice them into a request body without decoding and re-encoding them. It
signals failure with the ``TransportError`` tree: ``RetryableTransportError`` (try again later),
``RejectedError`` (final), ``PayloadTooLargeError`` (split and try again). A backend may also
define ``attach(client)``: each ``Client`` built with it calls it once (the test recorder uses it
to flush its clients before answering).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["Backend"]


class Backend(Protocol):
    """Where batches of events are delivered (PostHog over HTTP, an in-memory recorder, …)."""

    def send(self, batch: Sequence[bytes]) -> None:
        """Deliver ``batch`` (JSON-encoded events) or raise a ``TransportError``."""

    def close(self) -> None:
        """Release connections; called once at shutdown."""
