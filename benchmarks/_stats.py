"""Small statistics shared by the benchmarks: percentiles and "median (min to max)" cells."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); robust for the p99 of a few thousand calls."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float], digits: int = 0, unit: str = "") -> str:
    """``median (min to max)`` over repetitions: the cell format of every results table."""
    if not values:
        return "n/a"
    fmt = f"{{:,.{digits}f}}"
    mid = fmt.format(median(values)) + unit
    if len(values) == 1:
        return mid
    return f"{mid} ({fmt.format(min(values))} to {fmt.format(max(values))})"
