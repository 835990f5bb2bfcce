"""What the client needs from a delivery pipeline, and the simplest one.

The client builds finished events, encodes each to JSON once, and hands the bytes to a
``Delivery``. Everything after that (queueing, batching, retries, persistence) is the
pipeline's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ._backend import Backend
from ._exceptions import TransportError
from ._log import logger

__all__ = ["Delivery", "FlushResult", "SyncDelivery"]


@dataclass(frozen=True)
class FlushResult:
    """Outcome of ``flush``/``shutdown``: events delivered, still waiting, and dropped."""

    sent: int = 0
    pending: int = 0
    dropped: int = 0


class Delivery(Protocol):
    def submit(self, event: bytes) -> bool:
        """Queue one encoded event; False if it was refused (counted by reason)."""

    def flush(self, timeout_s: float | None) -> FlushResult:
        """Deliver what is queued, waiting at most ``timeout_s`` (None: the pipeline's default)."""

    def shutdown(self, timeout_s: float | None) -> FlushResult:
        """Flush within ``timeout_s`` and stop; idempotent. Unsent events stay queued on disk."""

    def purge(self) -> int:
        """Delete every unsent event (opt-out); returns how many were deleted."""

    def stats(self) -> dict[str, int]:
        """Counters: sent, retried, pending and ``dropped_<reason>``."""


class SyncDelivery:
    """Hands every event straight to the backend on the caller's thread."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._sent = 0
        self._dropped: dict[str, int] = {}

    def submit(self, event: bytes) -> bool:
        try:
            self._backend.send([event])
        except TransportError as exc:
            reason = type(exc).__name__
            self._dropped[reason] = self._dropped.get(reason, 0) + 1
            logger.warning("event not delivered: %s", exc)
            return False
        self._sent += 1
        return True

    def flush(self, timeout_s: float | None) -> FlushResult:
        return FlushResult(sent=self._sent, dropped=sum(self._dropped.values()))

    def shutdown(self, timeout_s: float | None) -> FlushResult:
        self._backend.close()
        return self.flush(timeout_s)

    def purge(self) -> int:
        return 0

    def stats(self) -> dict[str, int]:
        return {"sent": self._sent, **{f"dropped_{k}": v for k, v in self._dropped.items()}}
