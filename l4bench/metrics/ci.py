"""Confidence intervals: t-intervals over repeats, and request-level bootstrap within one run.

Means of resamples come from count matrices (resample x request: how often each request was
drawn), generated in chunks from one seeded Generator; a request that failed or lies outside the
measurement window is drawn but has no value to count. Percentiles of resamples are drawn exactly
from the distribution of the order statistics of a resample of the metric's values (Beta draws),
so their cost does not grow with the number of requests. A ratio of two schedulers' means is
bootstrapped paired: one count matrix over the repeat's requests serves both.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
#: Resamples per bootstrap; chunk size bounds memory (chunk x requests int32 counts).
NUM_RESAMPLES = 1000
_CHUNK = 128


@lru_cache(maxsize=256)
def _t_critical(confidence: float, dof: int) -> float:
    return float(stats.t.ppf(0.5 + confidence / 2, dof))


def t_interval(values: Any, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Mean of ``values`` (None/NaN dropped) with a two-sided Student-t interval.

    With fewer than two values the bounds are None and ``note`` says why.
    """
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    out: dict[str, Any] = {"mean": float(v.mean()) if v.size else None, "low": None, "high": None,
                           "std": None, "n": int(v.size), "method": "t"}
    if v.size < 2:
        out["note"] = f"{v.size} value(s): no interval"
        return out
    sd = float(v.std(ddof=1))
    half = _t_critical(confidence, int(v.size) - 1) * sd / math.sqrt(v.size)
    out.update(low=float(v.mean()) - half, high=float(v.mean()) + half, std=sd)
    return out


def log_ratio_interval(ratios: Any, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Geometric mean of paired ratios with the t-interval of their logs, exponentiated."""
    r = np.asarray([x for x in ratios if x is not None], dtype=np.float64)
    r = r[np.isfinite(r) & (r > 0)]
    ci = t_interval(np.log(r), confidence)
    out = {k: (math.exp(ci[k]) if ci[k] is not None else None) for k in ("mean", "low", "high")}
    return {**out, "n": ci["n"], "method": "t on log ratio over repeats (geometric mean)",
            **({"note": ci["note"]} if "note" in ci else {})}


def resample_counts(num_items: int, num_resamples: int, seed: Any) -> Iterator[np.ndarray]:
    """Chunks (rows = resamples, columns = items) of bootstrap draw counts; deterministic in seed."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < num_resamples:
        rows = min(_CHUNK, num_resamples - done)
        idx = rng.integers(0, num_items, size=(rows, num_items))
        idx += (np.arange(rows) * num_items)[:, None]
        counts = np.bincount(idx.ravel(), minlength=rows * num_items).reshape(rows, num_items)
        yield counts.astype(np.int32)
        done += rows


def _order_statistic_percentiles(sorted_values: np.ndarray, q: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws of numpy's linear percentile q (0-100) of a bootstrap resample of sorted_values.

    Exact in distribution without drawing the resample: its indices are floor(m * U_i) for m iid
    uniforms U_i, so its k-th smallest value is sorted_values[floor(m * U_(k))], with the uniform
    order statistic U_(k) ~ Beta(k + 1, m - k) (k 0-based) and U_(k+1) = U_(k) + (1 - U_(k)) *
    Beta(1, m - k - 1). O(size) work for any m.
    """
    m = sorted_values.size
    pos = (m - 1) * q / 100.0
    k = int(math.floor(pos))
    frac = pos - k
    u_k = rng.beta(k + 1, m - k, size=size)
    u_next = u_k + (1.0 - u_k) * rng.beta(1, m - k - 1, size=size) if k + 1 < m else u_k
    j_k = np.minimum((m * u_k).astype(np.int64), m - 1)
    j_next = np.minimum((m * u_next).astype(np.int64), m - 1)
    out: np.ndarray = sorted_values[j_k] + frac * (sorted_values[j_next] - sorted_values[j_k])
    return out


def bootstrap_stats(
    values_by_item: dict[str, np.ndarray], seed: Any, num_resamples: int = NUM_RESAMPLES,
    percentiles: tuple[float, ...] = (50.0, 90.0, 99.0),
) -> dict[str, np.ndarray]:
    """Bootstrap replicates of the mean and percentiles of each metric over items (requests).

    Args:
        values_by_item: metric -> one value per item, all of one length (NaN: the item has no
            value, e.g. failed or outside the window).
    Returns:
        "<metric>:mean" and "<metric>:p<q>" -> array of replicates (length num_resamples).
        Means: one count matrix over all items serves every metric (a resampled request brings
        all its metrics), each mean over the drawn items that have a value. Percentiles: exact
        draws for a resample of the metric's m finite values (size fixed at m).
    """
    names = list(values_by_item)
    if not names:
        return {}
    vals = np.vstack([np.asarray(values_by_item[k], dtype=np.float64) for k in names]).T  # items x metrics
    has = np.isfinite(vals)
    both = np.hstack([np.where(has, vals, 0.0), has.astype(np.float64)])
    sums = np.vstack([counts @ both for counts in resample_counts(len(vals), num_resamples, [*_seed_list(seed), 0])])
    out: dict[str, np.ndarray] = {}
    rng = np.random.default_rng([*_seed_list(seed), 1])
    for i, metric in enumerate(names):
        v = np.sort(vals[has[:, i], i])
        if v.size == 0:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"{metric}:mean"] = sums[:, i] / sums[:, len(names) + i]
        for p in percentiles:
            out[f"{metric}:p{p:g}"] = _order_statistic_percentiles(v, p, num_resamples, rng)
    return out


def _seed_list(seed: Any) -> list[int]:
    """A seed (int or list of ints) as a list, to extend with sub-stream numbers."""
    return [int(x) for x in (seed if isinstance(seed, list | tuple) else [seed])]


def percentile_interval(replicates: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Percentile-method bootstrap interval of the replicates (None when none are finite)."""
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return None, None
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.percentile(r, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def paired_ratio_replicates(
    num_items: int, a: np.ndarray, b: np.ndarray, seed: Any, num_resamples: int = NUM_RESAMPLES
) -> tuple[float, np.ndarray, int]:
    """Ratio of means mean(a) / mean(b) over items where both are finite, and its paired replicates.

    Returns (point estimate, replicates, number of paired items).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    if not both.any() or float(b[both].sum()) <= 0:
        return float("nan"), np.zeros(0), int(both.sum())
    av, bv = np.where(both, a, 0.0), np.where(both, b, 0.0)
    reps = []
    for counts in resample_counts(num_items, num_resamples, seed):
        with np.errstate(invalid="ignore", divide="ignore"):
            reps.append((counts @ av) / (counts @ bv))
    return float(av.sum() / bv.sum()), np.concatenate(reps), int(both.sum())
