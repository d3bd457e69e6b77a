"""Medians with confidence intervals for kernel timings: order-statistic CI of one median, bootstrap for ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z_95 = 1.959963984540054  # two-sided 95 % normal quantile


def median_ci(values: Sequence[float] | np.ndarray, z: float = Z_95) -> tuple[float, float, float]:
    """(median, low, high): the distribution-free order-statistic 95 % CI of the median.

    The ranks are n/2 -+ z*sqrt(n)/2 (the normal approximation of the binomial(n, 1/2) count below
    the median), rounded outwards and clipped to the sample; with very few values the CI is the range.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    half_width = z * math.sqrt(n) / 2.0
    lo = max(int(math.floor(n / 2.0 - half_width)), 1)  # 1-based rank
    hi = min(int(math.ceil(n / 2.0 + half_width)) + 1, n)
    return float(np.median(x)), float(x[lo - 1]), float(x[hi - 1])


def _boot_medians(x: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    idx = rng.integers(0, x.size, size=(reps, x.size))
    return np.median(x[idx], axis=1)


def bootstrap_ratio_ci(
    numerators: Sequence[np.ndarray],
    denominators: Sequence[np.ndarray],
    rng: np.random.Generator,
    reps: int = 2000,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """(ratio, low, high) of sum(median(num_i)) / sum(median(den_j)); percentile bootstrap, each set resampled alone.

    Used for mixed/homogeneous (one set each) and mixed/split (one mixed set over the two parts' sets).
    """
    nums = [np.asarray(v, dtype=np.float64) for v in numerators]
    dens = [np.asarray(v, dtype=np.float64) for v in denominators]
    if any(v.size == 0 for v in nums + dens):
        return math.nan, math.nan, math.nan
    point = sum(float(np.median(v)) for v in nums) / sum(float(np.median(v)) for v in dens)
    boot_num = sum(_boot_medians(v, reps, rng) for v in nums)
    boot_den = sum(_boot_medians(v, reps, rng) for v in dens)
    ratios = np.asarray(boot_num) / np.asarray(boot_den)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(ratios, [tail, 100.0 - tail])
    return point, float(low), float(high)
