"""Percentiles and summaries, in plain Python (the measuring side needs no numpy)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation, as numpy's default."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_ms(seconds: Sequence[float], prefix: str) -> dict[str, float]:
    """p50, p95, p99 and max of durations in seconds, in milliseconds, keyed ``prefix_pNN_ms``."""
    millis = [s * 1000 for s in seconds]
    summary = {f"{prefix}_p{q}_ms": percentile(millis, q) for q in (50, 95, 99)}
    summary[f"{prefix}_max_ms"] = max(millis)
    return summary


@dataclass(frozen=True)
class Spread:
    """The median of repeated measurements and their range."""

    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Summarise ``values`` (at least one)."""
        return cls(statistics.median(values), min(values), max(values), len(values))
