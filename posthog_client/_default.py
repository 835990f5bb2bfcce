"""The process-wide client that ``init()`` installs: a leaf, so that both the module-level API
and request contexts (which send the exceptions escaping them) can reach it without importing
each other."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ._fork_safety import renew_after_fork

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["client", "lock"]

client: Client | None = None
lock = threading.Lock()  # held while the client is replaced
renew_after_fork(globals(), "lock")
