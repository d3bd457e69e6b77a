"""Small numeric helpers shared by the summary: vLLM-style latency stats and JSON cleaning."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Percentiles reported for every latency metric, as in ``vllm bench serve --metric-percentiles 90,99``.
PERCENTILES: tuple[float, ...] = (90.0, 99.0)


def percentile_key(p: float, metric: str) -> str:
    """vLLM's field name for a percentile: p99_ttft_ms, p99.9_ttft_ms."""
    word = str(int(p)) if int(p) == p else str(p)
    return f"p{word}_{metric}"


def latency_stats(values_ms: np.ndarray, metric: str) -> dict[str, float | None]:
    """mean_/median_/std_/pNN_ fields of one metric (ms); all None when there are no values."""
    keys = [f"mean_{metric}", f"median_{metric}", f"std_{metric}"]
    keys += [percentile_key(p, metric) for p in PERCENTILES]
    vals = np.asarray(values_ms, dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return dict.fromkeys(keys)
    out: dict[str, float | None] = {
        f"mean_{metric}": float(np.mean(vals)),
        f"median_{metric}": float(np.median(vals)),
        f"std_{metric}": float(np.std(vals)),
    }
    for p in PERCENTILES:
        out[percentile_key(p, metric)] = float(np.percentile(vals, p))
    return out


def peak_rates(
    start_s: Sequence[float], end_s: Sequence[float], token_times_s: np.ndarray
) -> tuple[float, int]:
    """vLLM's max_output_tokens_per_s and max_concurrent_requests over 1-second buckets.

    Args:
        start_s, end_s: arrival and finish of each completed request.
        token_times_s: every token time of the completed requests, concatenated.
    """
    if len(start_s) == 0:
        return 0.0, 0
    t0 = float(min(start_s))
    num_buckets = int(math.ceil(max(end_s) - t0)) + 1
    tok = np.floor(np.asarray(token_times_s, dtype=np.float64) - t0).astype(np.int64)
    tok = tok[(tok >= 0) & (tok < num_buckets)]
    tokens_per_s = np.bincount(tok, minlength=num_buckets)
    first = np.floor(np.asarray(start_s, dtype=np.float64) - t0).astype(np.int64)
    last = np.floor(np.asarray(end_s, dtype=np.float64) - t0).astype(np.int64)
    # a request counts in every second bucket from its start to its end, both included
    delta = np.zeros(num_buckets + 1, dtype=np.int64)
    np.add.at(delta, first, 1)
    np.add.at(delta, last + 1, -1)
    concurrent = np.cumsum(delta[:-1])
    return float(tokens_per_s.max(initial=0)), int(concurrent.max(initial=0))


def json_clean(obj: Any) -> Any:
    """Recursively turn numpy scalars/arrays into Python values and NaN/inf into None."""
    if isinstance(obj, Mapping):
        return {str(k): json_clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [json_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
