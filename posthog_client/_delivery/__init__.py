"""Delivery: everything between an encoded event and the backend that receives it.

Holds the contract the client sees (``contract``: ``Delivery``, ``FlushResult``), the backend
seam (``backend``), the queues (``queue`` protocol and counters, ``disk_queue`` with its
``segments`` and ``append`` primitive, ``memory_queue``), the worker (``worker.Pipeline``), the
retry policy (``retry``), PostHog's HTTP transports (``http``: what every HTTP backend shares
and capture v0; ``capture_v1`` with ``v1_events``, its event shape), Mixpanel's (``mixpanel``,
over the same HTTP session code), what ``debug`` logs and ``on_error`` receives (``report``)
and ``build``, which assembles a pipeline from the options.

May import: the shared leaves (``_exceptions``, ``_log``, ``_types``, ``_version``, ``_guard``),
``_config``, ``_events`` and ``_mixpanel`` (the mapping and wire of the Mixpanel transport).
Never identity, contexts or the client: delivery moves bytes and does not know whose they are.
"""

from __future__ import annotations
