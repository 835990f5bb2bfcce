"""What the benchmark scripts share: figures as median [min–max] over runs, and run order.

Imported by the scripts beside it (``python tests/benchmarks/bench_*.py`` puts this folder on
``sys.path``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def median_range(values: Sequence[float], spec: str) -> str:
    """``median [min–max]`` of one figure over its runs, each number formatted with ``spec``."""
    if not values:
        return "–"
    median = spec.format(statistics.median(values))
    if min(values) == max(values):
        return median
    return f"{median} [{spec.format(min(values))}–{spec.format(max(values))}]"


def interleaved(sides: Sequence[T], runs: int) -> Iterator[T]:
    """Each side once per round, the order reversed every other round: neither always goes first."""
    for round_ in range(runs):
        yield from reversed(sides) if round_ % 2 else sides
