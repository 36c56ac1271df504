"""Percentiles from every sample, and rates over a steady window of a time series.

Latencies are kept as raw samples (a 60 s run at a few thousand commands/s is a few hundred
thousand floats), so percentiles are exact nearest-rank values rather than an HdrHistogram's
bucketed ones; a command that never got its answer counts as infinitely late, so it can only
push percentiles up, never vanish from them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p99_9": 0.999}


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(samples_s: Sequence[float], missing: int = 0) -> dict[str, Any]:
    """Milliseconds; `missing` answers count as +inf (reported as null in JSON)."""
    ordered = sorted(samples_s) + [math.inf] * missing
    summary: dict[str, Any] = {"count": len(samples_s), "missing": missing}
    for name, q in QUANTILES.items():
        value = nearest_rank(ordered, q)
        summary[f"{name}_ms"] = None if math.isinf(value) else round(value * 1000, 3)
    summary["max_ms"] = round(max(samples_s) * 1000, 3) if samples_s else None
    summary["mean_ms"] = round(sum(samples_s) / len(samples_s) * 1000, 3) if samples_s else None
    return summary


def window_rate(
    series: Sequence[tuple[float, float]], start: float, end: float
) -> tuple[float, float, float]:
    """(rate, seconds, amount) of a cumulative counter between the samples nearest to
    [start, end] (the first sample at or after `start`, the last at or before `end`)."""
    inside = [(t, v) for t, v in series if start <= t <= end]
    if len(inside) < 2:
        return math.nan, 0.0, 0.0
    (t0, v0), (t1, v1) = inside[0], inside[-1]
    seconds = t1 - t0
    return ((v1 - v0) / seconds if seconds > 0 else math.nan), seconds, v1 - v0
