"""Feature flags on the SDK side: fetching, caching, reading and reporting them, and groups.

Desktop and CLI apps (``app``): the flags of the persisted identity, fetched from ``/flags`` in
the background at first use and kept on disk beside the identity (``cache``), read from memory
in about a microsecond, reported once per flag, value and session (``reporting``). Backends
(``remote``): flags of any user, asked of ``/flags`` per call or evaluated locally from polled
definitions (``local``) with the engine in ``posthog_client._flags``. The wire (``transport``,
``values``), development overrides (``overrides``), the background loader (``loader``), groups
(``groups``) and the flag half of ``Client``: its public methods (``methods``) on their
plumbing (``base``: the ``service`` built at first use, whom a call is for).

Only ``groups``, ``methods`` and ``base`` are imported with ``posthog_client``; everything else
loads when an app first uses a flag, and the evaluation engine only with a secret key.

May import: the shared leaves (``_exceptions``, ``_log``, ``_types``, ``_version``, ``_guard``),
``_config``, ``_events``, ``_identity``, ``_delivery.http`` (the ``requests`` error mapping) and
the engine ``_flags``. Never the client.
"""

from __future__ import annotations
