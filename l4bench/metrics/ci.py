"""Confidence intervals: t-intervals over repeats, and request-level bootstrap within one run.

Bootstrap resamples are drawn as count matrices (resample x request: how often each request was
drawn), generated in chunks from one seeded Generator. The same seed gives the same matrix to
every scheduler of a repeat, so their bootstraps resample the same requests (paired): a ratio of
two schedulers is bootstrapped on matched requests. Percentiles of a resample are computed from
the counts of the sorted values (numpy's "linear" percentile of the resample, exactly), so no
resample is ever materialized as values.
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


def _percentiles_of_counts(sorted_counts: np.ndarray, sorted_values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """numpy-linear percentiles q (0-100) of each resample given its counts of the sorted values.

    Returns (resamples, len(q)); NaN for a resample that drew none of the values.
    """
    rows, n = sorted_counts.shape
    cum = np.cumsum(sorted_counts, axis=1, dtype=np.int64)
    m = cum[:, -1]
    pos = np.maximum(m - 1, 0)[:, None] * (q[None, :] / 100.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(m - 1, 0)[:, None])
    # rows are offset so that the flattened cumulative counts are one increasing array; the
    # 0-based order statistic k of row r sits at the first index of that row whose cum > k
    offset = (np.arange(rows, dtype=np.int64) * (int(m.max(initial=0)) + 1))[:, None]
    flat = (cum + offset).ravel()
    base = (np.arange(rows) * n)[:, None]
    j_lo = np.searchsorted(flat, lo + offset, side="right") - base
    j_hi = np.searchsorted(flat, hi + offset, side="right") - base
    j_lo, j_hi = np.minimum(j_lo, n - 1), np.minimum(j_hi, n - 1)
    out = sorted_values[j_lo] + (pos - lo) * (sorted_values[j_hi] - sorted_values[j_lo])
    out[m == 0] = np.nan
    return out


def bootstrap_stats(
    values_by_item: dict[str, np.ndarray], seed: Any, num_resamples: int = NUM_RESAMPLES,
    percentiles: tuple[float, ...] = (50.0, 90.0, 99.0),
) -> dict[str, np.ndarray]:
    """Bootstrap replicates of mean and percentiles of each metric, resampling items (requests).

    Args:
        values_by_item: metric -> one value per item of the run (NaN: the item has no value,
            e.g. failed or outside the measurement window; it is resampled but not counted).
        seed: seeds the resample counts (same seed + same item count = same resamples).
    Returns:
        "<metric>:mean" and "<metric>:p<q>" -> array of replicates (length num_resamples).
    """
    if not values_by_item:
        return {}
    n = len(next(iter(values_by_item.values())))
    q = np.asarray(percentiles, dtype=np.float64)
    prepared = {}
    for metric, vals in values_by_item.items():
        vals = np.asarray(vals, dtype=np.float64)
        finite = np.flatnonzero(np.isfinite(vals))
        order = finite[np.argsort(vals[finite], kind="stable")]
        prepared[metric] = (order, vals[order])
    parts: dict[str, list[np.ndarray]] = {}
    for counts in resample_counts(n, num_resamples, seed):
        for metric, (order, svals) in prepared.items():
            if svals.size == 0:
                continue
            sc = counts[:, order]
            m = sc.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                parts.setdefault(f"{metric}:mean", []).append((sc @ svals) / m)
            pct = _percentiles_of_counts(sc, svals, q)
            for i, p in enumerate(percentiles):
                parts.setdefault(f"{metric}:p{p:g}", []).append(pct[:, i])
    return {k: np.concatenate(v) for k, v in parts.items()}


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
