"""Building an event: timestamps (``timestamps``), UUIDv7 ids (``uuid7``), the SDK and runtime
context every event carries (``runtime``), JSON encoding with predictable conversions
(``encoding``) and the ``$exception`` shape (``exception``).

May import: the shared leaves only (``_exceptions``, ``_log``, ``_types``, ``_version``). Pure
building blocks: no identity, no delivery, no I/O.
"""

from __future__ import annotations
