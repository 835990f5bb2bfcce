"""The seam between the SDK and where events go.

A backend receives batches of finished events, each already JSON-encoded (``bytes``), so the
HTTP backend can splice them into a request body without decoding and re-encoding them. It
signals failure with the ``TransportError`` tree: ``RetryableTransportError`` (try again later),
``RejectedError`` (final), ``PayloadTooLargeError`` (split and try again). A backend whose
server answers per event (capture v1, Mixpanel's strict ``/import``) returns an ``EventResults``
instead: which events were dropped and which to send again; the pipeline sends only those
again and never resends the accepted ones. A backend may also define ``attach(client)``: each
``Client`` built with it calls it once (the test recorder uses it to flush its clients before
answering); a backend it returns is the one that client delivers through (the recorder's
Mixpanel half, for a Mixpanel-mode client).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple, Protocol

__all__ = ["Backend", "EventResults"]


class EventResults(NamedTuple):
    """A server's answer per event of a batch, by position in the batch sent.

    ``dropped`` maps an event to the reason it was refused for good (counted as
    ``dropped_rejected_event``); ``retry`` lists the events to send again, after
    ``retry_after_s`` if the server said so. Every other event was accepted. ``detail`` is the
    server's explanation, logged once (never an event's content).
    """

    dropped: Mapping[int, str] = MappingProxyType({})
    retry: frozenset[int] = frozenset()
    retry_after_s: float | None = None
    detail: str | None = None


class Backend(Protocol):
    """Where batches of events are delivered (PostHog over HTTP, an in-memory recorder, …)."""

    def send(self, batch: Sequence[bytes]) -> EventResults | None:
        """Deliver ``batch`` (JSON-encoded events): None when all were accepted, the server's
        ``EventResults`` when it answered per event, or raise a ``TransportError``."""

    def close(self) -> None:
        """Release connections; called once at shutdown."""
