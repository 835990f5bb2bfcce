"""``python -m posthog_client``: the ``posthog-client`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
