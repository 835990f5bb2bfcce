"""What the client needs from a delivery pipeline.

The client builds finished events, encodes each to JSON once, and hands the bytes to a
``Delivery``. Everything after that (queueing, batching, retries, persistence) is the
pipeline's job: ``build.build_delivery`` picks one, ``worker.Pipeline`` implements it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from .._events.encoding import SharedProperties

__all__ = ["Delivery", "FlushResult"]


class FlushResult(NamedTuple):
    """Outcome of ``flush``/``shutdown``: events delivered and dropped during the call, and
    events still queued when it returned."""

    sent: int = 0
    pending: int = 0
    dropped: int = 0


class Delivery(Protocol):
    def submit(self, event: bytes, shared: SharedProperties | None = None) -> bool:
        """Queue one event encoded by ``encoding.encode_event``, with ``shared`` properties to
        splice into its own when it is sent; False if it was refused (counted by reason)."""

    def flush(self, timeout_s: float | None) -> FlushResult:
        """Deliver what is queued, waiting at most ``timeout_s`` (None: the pipeline's default)."""

    def shutdown(self, timeout_s: float | None) -> FlushResult:
        """Flush within ``timeout_s`` and stop; idempotent. Unsent events stay queued on disk."""

    def purge(self) -> int:
        """Delete every unsent event (opt-out); returns how many were deleted."""

    def stats(self) -> dict[str, int]:
        """Counters: sent, retried, pending and ``dropped_<reason>``."""
