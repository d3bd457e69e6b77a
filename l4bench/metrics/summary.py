"""One run's records -> the summary.json entry of one scheduler, and the cross-scheduler table.

Field names and definitions follow ``vllm bench serve`` (``calculate_metrics``): latency stats
are over completed requests only; TPOT = (E2EL - TTFT) / (output tokens - 1) for requests with
more than one output token; ITL = gaps between consecutive tokens of every completed request;
duration = first arrival to last finish. Stats with no data are null, never NaN.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from l4bench.l4.names import is_l4_family
from l4bench.metrics.records import RequestRecord, RunResult
from l4bench.metrics.slo import SloSpec
from l4bench.metrics.stats import json_clean, latency_stats, peak_rates

#: Error key for requests that neither finished nor reported an error.
UNFINISHED = "unfinished"


@dataclass(frozen=True, slots=True)
class _Completed:
    """Per-request arrays of the completed requests of one run (seconds)."""

    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    ttft_s: np.ndarray
    e2el_s: np.ndarray
    tpot_s: np.ndarray  # NaN where output_tokens <= 1
    itl_s: np.ndarray  # all gaps, concatenated
    token_times_s: np.ndarray  # all token times, concatenated

    @classmethod
    def of(cls, records: list[RequestRecord]) -> _Completed:
        """Collect arrays from completed records."""
        done = [r for r in records if r.is_completed]
        arrival = np.array([r.arrival_s for r in done], dtype=np.float64)
        first = np.array(
            [r.first_token_s if r.first_token_s is not None else np.nan for r in done], dtype=np.float64
        )
        finish = np.array([r.finish_s for r in done], dtype=np.float64)
        n_out = np.array([r.num_generated_tokens for r in done], dtype=np.int64)
        ttft, e2el = first - arrival, finish - arrival
        with np.errstate(divide="ignore", invalid="ignore"):
            tpot = np.where(n_out > 1, (e2el - ttft) / (n_out - 1), np.nan)
        times = [np.asarray(r.token_times_s, dtype=np.float64) for r in done]
        empty = np.zeros(0, dtype=np.float64)
        return cls(
            prompt_tokens=np.array([r.prompt_tokens for r in done], dtype=np.int64),
            output_tokens=n_out,
            ttft_s=ttft,
            e2el_s=e2el,
            tpot_s=tpot,
            itl_s=np.concatenate([np.diff(t) for t in times]) if times else empty,
            token_times_s=np.concatenate(times) if times else empty,
        )


def _good_mask(c: _Completed, slo: SloSpec) -> np.ndarray:
    """Completed requests meeting every set SLO; TPOT counts as 0 for <= 1 output token (vLLM)."""
    ok = np.ones(c.ttft_s.shape, dtype=bool)
    tpot_s = np.nan_to_num(c.tpot_s, nan=0.0)
    for limit_ms, values_s in ((slo.ttft_ms, c.ttft_s), (slo.tpot_ms, tpot_s), (slo.e2el_ms, c.e2el_s)):
        if limit_ms is not None:
            ok &= values_s * 1000.0 <= limit_ms
    return ok


def bucket_edges(edges_tokens: list[int], max_prompt_tokens: int) -> list[tuple[int, float]]:
    """[lo, hi) prompt-length buckets from edges: 0 is prepended if missing, and a final
    [last, inf) bucket is added only when some prompt reaches the last edge."""
    edges = sorted({int(e) for e in edges_tokens} | {0})
    pairs: list[tuple[int, float]] = [(lo, float(hi)) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    if max_prompt_tokens >= edges[-1]:
        pairs.append((edges[-1], float("inf")))
    return pairs


def _per_bucket(c: _Completed, records: list[RequestRecord], edges_tokens: list[int]) -> list[dict[str, Any]]:
    """Latency by prompt-length bucket (completed requests; failed ones counted apart)."""
    all_prompts = np.array([r.prompt_tokens for r in records], dtype=np.int64)
    failed = np.array([not r.is_completed for r in records], dtype=bool)
    out = []
    for lo, hi in bucket_edges(edges_tokens, int(all_prompts.max(initial=0))):
        sel = (c.prompt_tokens >= lo) & (c.prompt_tokens < hi)
        sel_all = (all_prompts >= lo) & (all_prompts < hi)
        e2el_ms, tpot_ms, ttft_ms = c.e2el_s[sel] * 1e3, c.tpot_s[sel] * 1e3, c.ttft_s[sel] * 1e3
        tpot_ms = tpot_ms[np.isfinite(tpot_ms)]
        hi_word = "inf" if hi == float("inf") else str(int(hi))
        out.append(
            {
                "bucket": f"[{lo},{hi_word})",
                "lo_tokens": lo,
                "hi_tokens": None if hi == float("inf") else int(hi),
                "count": int(sel.sum()),
                "failed": int((sel_all & failed).sum()),
                "mean_e2el_ms": float(e2el_ms.mean()) if e2el_ms.size else None,
                "p99_e2el_ms": float(np.percentile(e2el_ms, 99)) if e2el_ms.size else None,
                "mean_tpot_ms": float(tpot_ms.mean()) if tpot_ms.size else None,
                "mean_ttft_ms": float(ttft_ms.mean()) if ttft_ms.size else None,
            }
        )
    return out


def _throughputs(c: _Completed, duration_s: float, num_good: int, slo: SloSpec) -> dict[str, Any]:
    """vLLM's count and rate fields; rates are null when the duration is not positive."""
    total_in, total_out = int(c.prompt_tokens.sum()), int(c.output_tokens.sum())
    ok = duration_s > 0

    def rate(x: float) -> float | None:
        return x / duration_s if ok else None

    return {
        "duration": float(duration_s),
        "total_input_tokens": total_in,
        "total_output_tokens": total_out,
        "request_throughput": rate(len(c.ttft_s)),
        "request_goodput": rate(num_good) if slo.is_set else None,
        "output_throughput": rate(total_out),
        "total_token_throughput": rate(total_in + total_out),
    }


def _accounting(records: list[RequestRecord], batch_spread: list[float]) -> dict[str, Any]:
    """Migration, recompute, stall, preemption and batch-spread fields of l4bench."""
    spread = np.asarray(batch_spread, dtype=np.float64)
    finite = spread[np.isfinite(spread)]
    errors = Counter(r.error if r.error is not None else UNFINISHED for r in records if not r.is_completed)
    return {
        "migrations": int(sum(r.num_hops for r in records)),
        "migrated_requests": int(sum(r.num_hops > 0 for r in records)),
        "recomputed_tokens": int(sum(r.recomputed_tokens for r in records)),
        "stall_s_total": float(sum(r.stall_s for r in records)),
        "hops_by_mode": dict(sorted(Counter(m for r in records for m in r.hop_modes).items())),
        "kv_bytes_moved_estimate": int(sum(sum(r.hop_kv_bytes) for r in records)),
        "num_preemptions": int(sum(r.num_preemptions for r in records)),
        "batch_spread_per_instance": [float(x) for x in spread],
        "batch_spread_mean": float(finite.mean()) if finite.size else None,
        "errors": dict(sorted(errors.items())),
    }


def summarize(
    result: RunResult, slo: SloSpec, length_bucket_edges_tokens: list[int], meta: dict[str, Any]
) -> dict[str, Any]:
    """The summary.json entry of one scheduler's run (JSON-serializable, no NaN).

    ``meta`` (engine, num_instances, workload, seed, ...) is merged in first, so computed fields
    win on a name clash.
    """
    records = result.records
    c = _Completed.of(records)
    good = _good_mask(c, slo)
    max_tok_s, max_conc = peak_rates(
        [r.arrival_s for r in records if r.is_completed],
        [r.finish_s for r in records if r.is_completed and r.finish_s is not None],
        c.token_times_s,
    )
    out: dict[str, Any] = dict(meta)
    out.update(
        {
            "scheduler": result.scheduler,
            "num_prompts": len(records),
            "completed": len(c.ttft_s),
            "failed": len(records) - len(c.ttft_s),
            **_throughputs(c, result.duration_s, int(good.sum()), slo),
            "max_output_tokens_per_s": max_tok_s,
            "max_concurrent_requests": max_conc,
            "num_good_requests": int(good.sum()) if slo.is_set else None,
            "slo": slo.to_dict(),
        }
    )
    for metric, values_s in (
        ("ttft_ms", c.ttft_s),
        ("tpot_ms", c.tpot_s),
        ("itl_ms", c.itl_s),
        ("e2el_ms", c.e2el_s),
    ):
        out.update(latency_stats(values_s * 1000.0, metric))
    out["per_bucket"] = _per_bucket(c, records, length_bucket_edges_tokens)
    out.update(_accounting(records, result.batch_spread))
    return json_clean(out)  # type: ignore[no-any-return]


#: Headline columns of comparison.csv, in order.
COMPARISON_COLUMNS: tuple[str, ...] = (
    "completed",
    "failed",
    "duration",
    "request_throughput",
    "output_throughput",
    "request_goodput",
    "mean_ttft_ms",
    "p99_ttft_ms",
    "mean_tpot_ms",
    "p99_tpot_ms",
    "mean_e2el_ms",
    "p99_e2el_ms",
    "migrations",
    "recomputed_tokens",
    "batch_spread_mean",
)


def _ci_bound(s: dict[str, Any], metric: str, side: str) -> float | None:
    ci = (s.get("ci95") or {}).get(metric) or {}
    return ci.get(side)


def comparison_frame(
    summaries: dict[str, dict[str, Any]], versus: dict[str, Any] | None = None,
    each_repeat: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per scheduler: the headline columns, their CIs over repeats, the ratio to the best baseline.

    ``mean_e2el_vs_best``: mean E2E over the best baseline's (lowest mean E2E among schedulers
    that are not L4 or an ablation); below 1 means better than every baseline. With ``versus``
    (``metrics.repeats.versus_best``) the ratio and its paired 95% CI come from there
    (``vs_best_method`` says how); without, it is the plain ratio of means and the CI is empty.
    ``*_ci_low``/``*_ci_high``: t-interval over repeats (empty with one repeat).
    ``mean_e2el_vs_each_repeat_best`` (+ CI), with ``each_repeat``
    (``metrics.repeats.versus_each_repeat_best``): the ratio to each repeat's own best baseline.
    """
    rows = []
    for name, s in summaries.items():
        row: dict[str, Any] = {"scheduler": name, "num_repeats": s.get("num_repeats", 1)}
        row.update({k: s.get(k) for k in COMPARISON_COLUMNS})
        for m in ("mean_e2el_ms", "p99_e2el_ms"):
            row[f"{m}_ci_low"], row[f"{m}_ci_high"] = _ci_bound(s, m, "low"), _ci_bound(s, m, "high")
        rows.append(row)
    cols = ["scheduler", "num_repeats", *COMPARISON_COLUMNS,
            "mean_e2el_ms_ci_low", "mean_e2el_ms_ci_high", "p99_e2el_ms_ci_low", "p99_e2el_ms_ci_high"]
    df = pd.DataFrame(rows, columns=cols)
    e2el = pd.to_numeric(df["mean_e2el_ms"], errors="coerce")
    is_baseline = ~df["scheduler"].astype(str).map(is_l4_family)
    best = e2el[is_baseline].min()
    df["best_baseline"] = df["scheduler"][is_baseline & (e2el == best)].iloc[0] if pd.notna(best) else None
    df["mean_e2el_vs_best"] = e2el / best if pd.notna(best) and best > 0 else np.nan
    df["mean_e2el_vs_best_ci_low"] = np.nan
    df["mean_e2el_vs_best_ci_high"] = np.nan
    df["vs_best_method"] = "ratio of means, no CI"
    per = (versus or {}).get("schedulers") or {}
    if per:
        df["best_baseline"] = versus.get("best_baseline") if versus else None
        for col, key in (("mean_e2el_vs_best", "ratio"), ("mean_e2el_vs_best_ci_low", "low"),
                         ("mean_e2el_vs_best_ci_high", "high"), ("vs_best_method", "method")):
            df[col] = [(per.get(n) or {}).get(key) for n in df["scheduler"]]
    each = (each_repeat or {}).get("schedulers") or {}
    if each:
        for col, key in (("mean_e2el_vs_each_repeat_best", "ratio"), ("mean_e2el_vs_each_repeat_best_ci_low", "low"),
                         ("mean_e2el_vs_each_repeat_best_ci_high", "high")):
            df[col] = [(each.get(n) or {}).get(key) for n in df["scheduler"]]
    return df
