"""Statistics the live-run README tables share: a value with its request-bootstrap CI, a twin's error
against live, and ratios between two schedulers' runs (paired over the same requests, or unpaired from
two runs' own CIs)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from l4bench.metrics.ci import percentile_interval

Z95 = 1.959963984540054
LONG_PROMPT = 8192  # bimodal_ranges' classes: short 512-2048, long 16384-32768 prompt tokens
PAIRED_RESAMPLES, PAIRED_SEED = 2000, 15


def boot_ci(s: dict[str, Any], key: str) -> tuple[float, float] | None:
    """The run's request-bootstrap 95% CI of key (its summary's bootstrap_ci95), or None."""
    ci = (s.get("bootstrap_ci95") or {}).get(key)
    return (float(ci["low"]), float(ci["high"])) if ci and ci.get("low") is not None else None


def with_ci(s: dict[str, Any], key: str, fmt: str, scale: float) -> str:
    """"value [low, high]" of key, times scale (no interval when the run has none)."""
    text = format(s[key] * scale, fmt)
    ci = boot_ci(s, key)
    return text + (f" [{format(ci[0] * scale, fmt)}, {format(ci[1] * scale, fmt)}]" if ci else "")


def twin_error(sim: float, live: float) -> str:
    """The twin's relative error against live, "+12.3%"."""
    return f"{100 * (sim - live) / live:+.1f}%"


def twin_error_ci(sim: dict[str, Any], live: dict[str, Any], key: str) -> str:
    """The twin's error against live, with the range the live value's bootstrap CI gives it."""
    text = twin_error(sim[key], live[key])
    ci = boot_ci(live, key)
    return text + (f" [{100 * (sim[key] / ci[1] - 1):+.0f}, {100 * (sim[key] / ci[0] - 1):+.0f}]" if ci else "")


def unpaired_ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> tuple[float, float, float]:
    """a/b of key with a 95% CI from the two runs' independent bootstrap CIs (log scale, normal);
    the interval is NaN when either run has no CI of key."""
    ratio = a[key] / b[key]
    cis = [boot_ci(a, key), boot_ci(b, key)]
    if cis[0] is None or cis[1] is None:
        return ratio, math.nan, math.nan
    se = [(math.log(hi) - math.log(lo)) / (2 * Z95) for lo, hi in (cis[0], cis[1])]
    half = Z95 * math.hypot(*se)
    return ratio, ratio * math.exp(-half), ratio * math.exp(half)


def paired_ratio(a: np.ndarray, b: np.ndarray, q: float | None = None,
                 seed: int = PAIRED_SEED, num_resamples: int = PAIRED_RESAMPLES) -> tuple[float, float, float]:
    """stat(a) / stat(b) over the requests both completed (stat: mean, or percentile q), with a
    95% percentile-bootstrap CI that resamples the same requests for both (paired)."""
    both = np.isfinite(a) & np.isfinite(b)
    a, b = a[both], b[both]
    idx = np.random.default_rng(seed).integers(0, a.size, size=(num_resamples, a.size))

    def stat(x: np.ndarray, axis: int | None = None) -> Any:
        return np.mean(x, axis=axis) if q is None else np.percentile(x, q, axis=axis)

    low, high = percentile_interval(stat(a[idx], axis=1) / stat(b[idx], axis=1))
    return float(stat(a) / stat(b)), float(low or math.nan), float(high or math.nan)


def fmt_ratio(r: tuple[float, float, float]) -> str:
    """"ratio [low, high]" to 3 decimals."""
    return f"{r[0]:.3f} [{r[1]:.3f}, {r[2]:.3f}]"


def first_instances(instances: pd.Series) -> pd.Series:
    """The instance each request was first sent to, from a requests table's instances column (as
    requests.csv or requests.parquet holds it; -1 when it went nowhere)."""
    from l4bench.metrics.frame import instances_text

    return instances.map(lambda v: int(text.split(";")[0]) if (text := instances_text(v)) else -1)


def short_instance(first: pd.Series, long: pd.Series) -> int:
    """The instance that got most short prompts (the short stage's, under a static split)."""
    return int(first[~long].mode().iloc[0])
