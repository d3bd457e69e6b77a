"""Repeats -> the headline entry per scheduler (means with 95% CIs) and ratios to the best baseline.

Schema (summary.json): ``schedulers[name]`` holds every number of the per-repeat entries averaged
over the repeats that scheduler completed (an integer stays an integer when all repeats agree;
strings are repeat 0's), plus ``num_repeats`` and ``ci95`` = {metric: t_interval over repeats}.
With one repeat the entry is that run's own (its ``bootstrap_ci95`` included) and every ``ci95``
bound is null with a note. ``versus_best_baseline`` holds each scheduler's mean-E2E ratio to the
best baseline with a paired 95% CI (see ``versus_best``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from l4bench.l4.names import is_l4_family
from l4bench.metrics.ci import (
    CONFIDENCE,
    bootstrap_stats,
    log_ratio_interval,
    paired_ratio_replicates,
    percentile_interval,
    t_interval,
)
from l4bench.metrics.records import RequestRecord

#: Metrics that get a t-interval over repeats in ``ci95``.
CI_METRICS: tuple[str, ...] = (
    "completed", "failed", "duration", "request_throughput", "request_goodput", "output_throughput",
    "total_token_throughput",
    *(f"{s}_{m}" for m in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms") for s in ("mean", "median", "p90", "p99")),
    "migrations", "recomputed_tokens", "num_preemptions", "batch_spread_mean",
)  # fmt: skip
#: Per-run fields that do not average meaningfully (kept in per_repeat only when repeats > 1).
_PER_RUN_ONLY = ("bootstrap_ci95", "window")
#: Per-run fields taken from repeat 0 instead of averaged (repeat 0 runs with the base seed).
_FROM_FIRST = ("seed", "repeat")
#: Metrics bootstrapped within a run, and the statistics (summary.json prefixes) of each.
BOOTSTRAP_METRICS: tuple[str, ...] = ("e2el_ms", "ttft_ms", "tpot_ms")
_BOOTSTRAP_STATS: tuple[tuple[str, str], ...] = (("mean", "mean"), ("p50", "median"), ("p90", "p90"), ("p99", "p99"))
RATIO_METRIC = "mean_e2el_ms"


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def mean_tree(values: list[Any]) -> Any:
    """Average a list of equally shaped JSON values: numbers -> mean, dicts by key, lists by item.

    None entries are skipped; lists of per-bucket dicts are matched by their "bucket" label.
    """
    present = [v for v in values if v is not None]
    if not present:
        return None
    first = present[0]
    if all(_is_num(v) for v in present):
        m = float(np.mean(present))
        if all(isinstance(v, int) for v in present) and m == int(m):
            return int(m)
        return m
    if all(isinstance(v, dict) for v in present):
        keys = list(dict.fromkeys(k for v in present for k in v))
        return {k: mean_tree([v.get(k) for v in present]) for k in keys}
    if all(isinstance(v, list) for v in present):
        if all(isinstance(x, dict) and "bucket" in x for v in present for x in v):
            labels = list(dict.fromkeys(x["bucket"] for v in present for x in v))
            by_label = [{x["bucket"]: x for x in v} for v in present]
            return [mean_tree([b.get(lab) for b in by_label]) for lab in labels]
        if len({len(v) for v in present}) == 1:
            return [mean_tree(list(col)) for col in zip(*present, strict=True)]
    return first


def aggregate(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline entry of one scheduler from its per-repeat entries (see module doc)."""
    if len(entries) == 1:
        out = dict(entries[0])
    else:
        out = mean_tree([{k: v for k, v in e.items() if k not in _PER_RUN_ONLY} for e in entries])
        out.update({k: entries[0][k] for k in _FROM_FIRST if k in entries[0]})
    out["num_repeats"] = len(entries)
    cis = {}
    for m in CI_METRICS:
        ci = t_interval([e.get(m) for e in entries])
        if len(entries) == 1:
            ci["note"] = "1 repeat: no CI over repeats (see bootstrap_ci95 for percentiles within the run)"
        cis[m] = ci
    out["ci95"] = cis
    return out


def best_baseline(summaries: dict[str, dict[str, Any]], metric: str = RATIO_METRIC) -> str | None:
    """The non-L4 scheduler with the lowest ``metric`` (None when there is no baseline)."""
    vals = {n: s.get(metric) for n, s in summaries.items() if not is_l4_family(n)}
    vals = {n: float(v) for n, v in vals.items() if v is not None and math.isfinite(float(v))}
    return min(vals, key=vals.__getitem__) if vals else None


def versus_best(
    per_repeat: list[dict[str, dict[str, Any]]],
    summaries: dict[str, dict[str, Any]],
    per_request: list[dict[str, np.ndarray]],
    bootstrap: dict[str, Any],
) -> dict[str, Any]:
    """Each scheduler's mean-E2E ratio to the best baseline, with a paired 95% CI.

    Repeats > 1: per repeat ratio_r = mean_e2el(s, r) / mean_e2el(best, r) over the repeats both
    completed; estimate and CI = exp(mean and t-interval of log ratio_r) (a geometric mean).
    One repeat: ratio of the run's means, CI from a paired request-level bootstrap (the same
    resampled requests for both schedulers; requests completed and measured under both).

    Args:
        per_repeat: repeat -> scheduler -> per-run entry.
        summaries: scheduler -> aggregated entry (picks the best baseline).
        per_request: repeat -> scheduler -> per-request E2E (ms, NaN: not completed / not measured).
        bootstrap: {"num_resamples", "seeds": per repeat}.
    """
    best = best_baseline(summaries)
    out: dict[str, Any] = {"metric": RATIO_METRIC, "best_baseline": best, "schedulers": {}}
    if best is None:
        return out
    n_rep = len(per_repeat)
    for name in summaries:
        if n_rep > 1:
            ratios = []
            for rep in per_repeat:
                a, b = (rep.get(name) or {}).get(RATIO_METRIC), (rep.get(best) or {}).get(RATIO_METRIC)
                ratios.append(a / b if a is not None and b else None)
            ci = log_ratio_interval(ratios)
            out["schedulers"][name] = {"ratio": ci["mean"], "low": ci["low"], "high": ci["high"],
                                       "n": ci["n"], "method": ci["method"], "per_repeat": ratios}
            continue
        a, b = per_request[0].get(name), per_request[0].get(best)
        if a is None or b is None or int(bootstrap.get("num_resamples") or 0) <= 0:
            s, t = summaries[name].get(RATIO_METRIC), summaries[best].get(RATIO_METRIC)
            out["schedulers"][name] = {"ratio": s / t if s is not None and t else None, "low": None, "high": None,
                                       "n": 1, "method": "ratio of the run's means; no bootstrap"}
            continue
        ratio, reps, n_pairs = paired_ratio_replicates(len(a), a, b, bootstrap["seeds"][0], bootstrap["num_resamples"])
        low, high = percentile_interval(reps)
        out["schedulers"][name] = {
            "ratio": ratio if math.isfinite(ratio) else None, "low": low, "high": high, "n": 1,
            "num_paired_requests": n_pairs,
            "method": f"1 repeat: paired request-level bootstrap ({bootstrap['num_resamples']} resamples, percentile)",
        }
    return out


def versus_each_repeat_best(per_repeat: list[dict[str, dict[str, Any]]], names: list[str]) -> dict[str, Any]:
    """Each scheduler's mean-E2E ratio to the best baseline OF EACH REPEAT (which may differ by repeat).

    The stricter comparison when the best baseline changes with the seed: a baseline that wins
    only some repeats still counts there. Minima of noisy values favour the baselines, so this
    leans against L4. Estimate and CI as in ``versus_best`` (geometric mean, t on log ratios).
    """
    bests = [best_baseline(rep) for rep in per_repeat]
    out: dict[str, Any] = {"metric": RATIO_METRIC, "best_baseline_per_repeat": bests, "schedulers": {}}
    for name in names:
        ratios = []
        for rep, best in zip(per_repeat, bests, strict=True):
            a = (rep.get(name) or {}).get(RATIO_METRIC)
            b = (rep.get(best) or {}).get(RATIO_METRIC) if best else None
            ratios.append(a / b if a is not None and b else None)
        ci = log_ratio_interval(ratios)
        out["schedulers"][name] = {"ratio": ci["mean"], "low": ci["low"], "high": ci["high"], "n": ci["n"],
                                   "method": ci["method"], "per_repeat": ratios}
    return out


def per_request_latencies(
    records: list[RequestRecord], position: dict[int, int], measured: np.ndarray
) -> dict[str, np.ndarray]:
    """E2E, TTFT and TPOT (ms) per request position of the repeat; NaN: failed or not measured."""
    n = len(measured)
    out = {m: np.full(n, np.nan) for m in BOOTSTRAP_METRICS}
    for r in records:
        i = position.get(r.request_id)
        if i is None or not measured[i] or not r.is_completed or r.finish_s is None:
            continue
        e2el = (r.finish_s - r.arrival_s) * 1e3
        out["e2el_ms"][i] = e2el
        if r.first_token_s is not None:
            ttft = (r.first_token_s - r.arrival_s) * 1e3
            out["ttft_ms"][i] = ttft
            if r.num_generated_tokens > 1:
                out["tpot_ms"][i] = (e2el - ttft) / (r.num_generated_tokens - 1)
    return out


#: Fewer values than this beyond a percentile and its bootstrap CI is flagged (it cannot reach
#: past the largest observed value, so it understates the uncertainty of a tail percentile).
MIN_TAIL_VALUES = 10


def bootstrap_ci95(latencies: dict[str, np.ndarray], seed: list[int], num_resamples: int) -> dict[str, Any]:
    """The ``bootstrap_ci95`` block of one run: percentile-bootstrap CIs of mean/median/p90/p99."""
    out: dict[str, Any] = {"method": "percentile bootstrap over the run's requests",
                           "confidence": CONFIDENCE, "num_resamples": int(num_resamples), "seed": list(seed)}
    if num_resamples <= 0:
        out["note"] = "metrics.bootstrap_resamples = 0: not computed"
        return out
    reps = bootstrap_stats(latencies, seed, num_resamples)
    for metric in BOOTSTRAP_METRICS:
        num_values = int(np.isfinite(latencies[metric]).sum()) if metric in latencies else 0
        for stat, prefix in _BOOTSTRAP_STATS:
            low, high = percentile_interval(reps.get(f"{metric}:{stat}", np.zeros(0)))
            ci: dict[str, Any] = {"low": low, "high": high, "n": num_values}
            tail = num_values * (1.0 - float(stat[1:]) / 100.0) if stat.startswith("p") else float(num_values)
            if low is not None and tail < MIN_TAIL_VALUES:
                ci["note"] = (f"{tail:.1f} values above {stat} (< {MIN_TAIL_VALUES}): the bootstrap CI "
                              "understates its uncertainty; more requests or repeats are needed")
            out[f"{prefix}_{metric}"] = ci
    return out
