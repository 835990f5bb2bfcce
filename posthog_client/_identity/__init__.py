"""Identity: who an event belongs to.

Holds the client-side state machine (``machine``: identify, alias, reset… as pure functions),
the persisted state shared by an app's processes (``state``), distinct-id rules (``ids``) and
checks (``validation``), the analytics session (``session``), request-scoped identities of
backend services (``context``), the identity part of every event's properties (``properties``),
the user's consent (``consent``) and the identity half of the client (``methods``, with
``super_properties``, under ``mixpanel``: the rules of the Mixpanel backend).

May import: the shared leaves (``_exceptions``, ``_log``, ``_types``, ``_version``, ``_guard``),
``_config``, ``_events`` and ``_mixpanel`` (deferred: Mixpanel clients only). Never delivery or
the client.
"""

from __future__ import annotations
