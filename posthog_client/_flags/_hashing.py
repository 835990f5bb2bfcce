"""Deterministic bucketing (E1, E5, E6, E18): where an identifier falls in [0, 1]."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from ._model import Variant

__all__ = ["bucket", "in_rollout", "pick_variant"]

_SCALE: Final = float(0xFFFFFFFFFFFFFFF)  # fifteen hex digits, the 60-bit maximum


def bucket(prefix: str, identifier: str, salt: str = "") -> float:
    """``sha1(prefix + identifier + salt)``: the first 60 bits as a fraction of their maximum.

    ``prefix`` is ``"<flag key>."`` for rollouts and variants and ``"holdout-"`` for holdouts.
    The 60-bit integer becomes a float64 *before* the division, as PostHog's services do; an
    exact ``int / int`` division differs in the last bit for about 1.4 % of identifiers.
    """
    # A lone surrogate (possible in decoded JSON, never in PostHog's strings) must not raise.
    data = f"{prefix}{identifier}{salt}".encode("utf-8", "surrogatepass")
    digest = hashlib.sha1(data, usedforsecurity=False).digest()
    return float(int.from_bytes(digest[:8], "big") >> 4) / _SCALE


def in_rollout(flag_key: str, identifier: str, percentage: float | None) -> bool:
    """Whether ``identifier`` passes a condition's rollout (``None`` means 100 %)."""
    if percentage is None or percentage == 100.0:
        return True
    # An empty identifier cannot be hashed meaningfully; PostHog puts it at 0.0.
    value = bucket(f"{flag_key}.", identifier) if identifier else 0.0
    return value <= percentage / 100.0


def pick_variant(flag_key: str, identifier: str, variants: Sequence[Variant]) -> str | None:
    """The multivariate variant of ``identifier``: the first whose cumulative share exceeds it."""
    if not variants:
        return None
    value = bucket(f"{flag_key}.", identifier, "variant") if identifier else 0.0
    cumulative = 0.0
    for variant in variants:
        cumulative += variant.rollout_percentage / 100.0
        if value < cumulative:
            return variant.key
    return None
