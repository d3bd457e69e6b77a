"""Small statistics for the profiler: per-composition spread and confidence intervals (stdlib + numpy).

The replicate of a step-time measurement is a pass (a separate visit of the composition, in a
shuffled order, with its own setup): steps inside one visit share its state and are not independent.
So a composition's confidence interval is Student's t over its pass medians, and its point value
stays the median over every measured step (as profile.csv always had it).
"""

from __future__ import annotations

import math
import statistics

import numpy as np

# Two-sided 95% Student t quantiles t_{0.975, df}, df = 1..10; beyond, the Cornish-Fisher expansion.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)
_Z975 = 1.959964


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with df degrees of freedom (two-sided 95% intervals)."""
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci95(values: list[float]) -> tuple[float, float, float]:
    """(mean, low, high) of a 95% t interval for the mean; low = high = mean for a single value."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = statistics.fmean(values)
    if n == 1:
        return mean, mean, mean
    half = t975(n - 1) * statistics.stdev(values) / math.sqrt(n)
    return mean, mean - half, mean + half


def iqr(values: list[float]) -> float:
    """Interquartile range (numpy's linear quantiles); 0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    q1, q3 = np.quantile(np.asarray(values, dtype=float), [0.25, 0.75])
    return float(q3 - q1)


def pass_stats(pass_times_s: list[list[float]]) -> dict[str, float]:
    """Median over all steps, pass-median mean / std / 95% CI, IQR over all steps, min and max."""
    every = [t for times in pass_times_s for t in times]
    medians = [statistics.median(times) for times in pass_times_s if times]
    mean, low, high = mean_ci95(medians)
    return {
        "step_time_s": statistics.median(every), "step_time_min_s": min(every), "step_time_max_s": max(every),
        "step_time_mean_s": mean, "step_time_std_s": statistics.stdev(medians) if len(medians) > 1 else 0.0,
        "step_time_iqr_s": iqr(every), "step_time_ci_low_s": low, "step_time_ci_high_s": high,
        "num_passes": len(medians),
    }


def bootstrap_ci95(groups: list[list[float]], stat: str, rng: np.random.Generator,
                   num_resamples: int = 1000) -> tuple[float, float, float]:
    """(value, low, high): `stat` ("mean", "p50", "p90") of the pooled groups, 95% CI by resampling groups.

    A group is one request's inter-token times: requests, not tokens, are the independent units.
    """
    groups = [g for g in groups if g]
    if not groups:
        return math.nan, math.nan, math.nan

    def value(sample: list[list[float]]) -> float:
        pooled = np.concatenate([np.asarray(g, dtype=float) for g in sample])
        return float(pooled.mean()) if stat == "mean" else float(np.quantile(pooled, int(stat[1:]) / 100))

    point = value(groups)
    if len(groups) == 1:
        return point, point, point
    draws = [value([groups[i] for i in rng.integers(0, len(groups), len(groups))]) for _ in range(num_resamples)]
    low, high = np.quantile(draws, [0.025, 0.975])
    return point, float(low), float(high)
