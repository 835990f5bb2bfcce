"""Chooses and builds the delivery pipeline for a client's options."""

from __future__ import annotations

from .._config import Options
from .._log import logger
from .contract import Delivery
from .disk_queue import DiskQueue
from .http import HttpBackend
from .memory_queue import MemoryQueue
from .queue import Counters, EventQueue
from .report import ErrorRecorder
from .worker import Pipeline

__all__ = ["build_delivery"]


def build_delivery(options: Options) -> Delivery:
    """The pipeline events of a client with ``options`` go through.

    Persisted mode queues on disk under ``project_dir/queue`` (falling back to memory, with a
    WARNING, when that folder is unusable); ``persist=False`` queues in memory. The backend is
    ``options.backend`` or PostHog over HTTP at ``options.host``; ``sync_mode`` delivers on the
    caller's thread instead of a worker.
    """
    counters = Counters()
    backend = options.backend or HttpBackend(
        options.api_key, options.host, gzip=options.gzip, timeout_s=options.timeout_s
    )
    if options.persist:  # for `posthog-client status`: the last failure, kept on disk
        backend = ErrorRecorder(backend, options.project_dir)
    return Pipeline(
        options, _build_queue(options, counters), backend, counters, threaded=not options.sync_mode
    )


def _build_queue(options: Options, counters: Counters) -> EventQueue:
    if options.persist:
        directory = options.project_dir / "queue"
        try:
            return DiskQueue(directory, options.max_disk_bytes, counters)
        except OSError as exc:  # read-only or full disk, permissions, lock timeout
            logger.warning(
                "disk queue unavailable in %s (%s): events are kept in memory", directory, exc
            )
    return MemoryQueue(options.max_queue_size, counters)
