"""Percentiles and run summaries (pure)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(samples_ms: Sequence[float], prefix: str = "latency") -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": percentile(samples_ms, 50),
        f"{prefix}_p95_ms": percentile(samples_ms, 95),
        f"{prefix}_p99_ms": percentile(samples_ms, 99),
    }


def summarize(runs: Sequence[float]) -> dict[str, float]:
    """Median and min and max over runs."""
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs)}
