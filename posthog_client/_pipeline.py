"""Chooses and builds the delivery pipeline for a client's options."""

from __future__ import annotations

from ._config import Options
from ._delivery import Delivery, SyncDelivery
from ._exceptions import ConfigurationError

__all__ = ["build_delivery"]


def build_delivery(options: Options) -> Delivery:
    """The pipeline events of a client with ``options`` go through."""
    if options.backend is None:
        raise ConfigurationError("no backend configured")
    return SyncDelivery(options.backend)
