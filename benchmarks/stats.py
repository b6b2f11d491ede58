"""Summary statistics of repeated timings: median, quartiles, spread, ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 <= q <= 1) with linear interpolation (NumPy's default method).

    >>> quantile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.5
    """
    if not values:
        raise ValueError("quantile: values is empty")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile: q must be in [0, 1], got {q}")
    xs = sorted(float(v) for v in values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    return quantile(values, 0.5)


def iqr(values: Sequence[float]) -> tuple[float, float]:
    """(first quartile, third quartile)."""
    return quantile(values, 0.25), quantile(values, 0.75)


def summarize(times_s: Sequence[float]) -> dict:
    """Seconds per repetition -> a JSON-ready summary in milliseconds."""
    if not times_s:
        return {"n": 0}
    ms = [1e3 * t for t in times_s]
    q1, q3 = iqr(ms)
    return {
        "n": len(ms),
        "median_ms": median(ms),
        "q1_ms": q1,
        "q3_ms": q3,
        "min_ms": min(ms),
        "max_ms": max(ms),
        # relative half-width of the interquartile range: a quick noise figure
        "iqr_rel": (q3 - q1) / (2 * median(ms)) if median(ms) > 0 else 0.0,
    }


def ratio(a: dict | None, b: dict | None) -> float | None:
    """median(a) / median(b), or None when either is missing."""
    if not a or not b or not a.get("n") or not b.get("n"):
        return None
    if b["median_ms"] <= 0:
        return None
    return a["median_ms"] / b["median_ms"]


def gflops(flops: float | None, summary: dict | None) -> float | None:
    """Achieved GFLOP/s at the median time."""
    if not flops or not summary or not summary.get("n") or summary["median_ms"] <= 0:
        return None
    return flops / (summary["median_ms"] * 1e-3) / 1e9
