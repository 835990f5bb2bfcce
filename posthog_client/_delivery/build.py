"""Chooses and builds the delivery pipeline for a client's options."""

from __future__ import annotations

from .._config import Options
from .backend import Backend
from .capture_v1 import CaptureV1Backend
from .contract import Delivery
from .disk_queue import DiskQueue
from .http import HttpBackend
from .memory_queue import MemoryQueue
from .queue import Counters, EventQueue
from .spilling_queue import SpillingQueue
from .worker import Pipeline

__all__ = ["build_delivery"]


def build_delivery(options: Options) -> Delivery:
    """The pipeline events of a client with ``options`` go through.

    Persisted mode queues on disk under ``project_dir/queue``, in memory while the disk refuses
    events (``SpillingQueue``); ``persist=False`` queues in memory. The backend is
    ``options.backend``, else Mixpanel when ``mixpanel_token`` is set, else PostHog over HTTP
    at ``options.host``, through the API ``options.capture_api`` names; ``sync_mode`` delivers on
    the caller's thread instead of a worker.
    """
    counters = Counters()
    backend = options.backend
    if backend is None and options.mixpanel_token is not None:
        from .mixpanel import mixpanel_backend  # deferred: PostHog clients never load it

        backend = mixpanel_backend(options)
    elif backend is None:
        backend = _posthog_backend(options)
    return Pipeline(
        options, _build_queue(options, counters), backend, counters, threaded=not options.sync_mode
    )


def _posthog_backend(options: Options) -> Backend:
    if options.capture_api == "v1":
        return CaptureV1Backend(
            options.api_key,
            options.host,
            encoding=options.compression if options.gzip else None,
            timeout_s=options.timeout_s,
            historical_migration=options.historical_migration,
        )
    return HttpBackend(
        options.api_key,
        options.host,
        gzip=options.gzip,
        timeout_s=options.timeout_s,
        historical_migration=options.historical_migration,
    )


def _build_queue(options: Options, counters: Counters) -> EventQueue:
    memory = MemoryQueue(options.max_queue_size, counters)
    if not options.persist:
        return memory
    directory = options.project_dir / "queue"
    return SpillingQueue(lambda: DiskQueue(directory, options.max_disk_bytes, counters), memory)
