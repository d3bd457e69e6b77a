"""fit_report.md: the profile's headline, the fit's coefficients and its held-out error by composition."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from l4bench.perf.crossval import holdout_errors
from l4bench.perf.features import DEFAULT_FEATURES
from l4bench.perf.fit import headline_table, shapes_of

if TYPE_CHECKING:
    from l4bench.perf.fit import FitResult

GOAL_PCT = 10.0


def _md_table(df: pd.DataFrame, floatfmt: str = "{:.2f}") -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [floatfmt.format(v) if isinstance(v, (float, np.floating)) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _summary_rows(label: str, summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first = summaries[0]
    return [{"features": label, "compositions": kind, "n": first[kind]["num_compositions"],
             "mean_abs_pct": first[kind]["mean_abs_pct"], "max_abs_pct": first[kind]["max_abs_pct"],
             "worst_seed_mean_abs_pct": max(s[kind]["mean_abs_pct"] for s in summaries)}
            for kind in ("mixed", "uniform", "all")]


def holdout_lines(df: pd.DataFrame, result: FitResult) -> list[str]:
    """The held-out section: this fit's errors, and the first fit's feature set under the same folds."""
    rows = _summary_rows("this fit", result.holdout.summaries)
    if tuple(result.features) != DEFAULT_FEATURES:
        seeds = tuple(range(len(result.holdout.summaries)))
        base = holdout_errors(df, DEFAULT_FEATURES, result.params, result.holdout.num_folds, seeds)
        rows += _summary_rows("first fit's set (DEFAULT_FEATURES)", base.summaries)
    first = result.holdout.summaries[0]
    ok = all(first[k]["mean_abs_pct"] <= GOAL_PCT for k in ("mixed", "uniform") if first[k]["num_compositions"])
    return [
        f"## Held-out error ({result.holdout.num_folds}-fold over whole compositions)",
        "",
        f"No composition has rows in both train and test. Errors are per composition (median prediction vs "
        f"median measurement), mixed = decode length spread (1 - mean/max) >= 0.25 or the profile's is_mixed; "
        f"worst_seed = the worst of {len(result.holdout.summaries)} fold assignments. Goal: mean <= {GOAL_PCT:.0f}% "
        f"for mixed and uniform: **{'met' if ok else 'NOT met'}**.",
        "",
        _md_table(pd.DataFrame(rows), "{:.1f}"),
        "",
    ]


def repeat_lines(df: pd.DataFrame, repeat: pd.DataFrame, result: FitResult) -> list[str]:
    """Reproducibility: a second run of the same grid (another machine) against the first and the fit."""
    both = df.merge(repeat, on="name", suffixes=("", "_rep"))
    diff = (both["step_time_s_rep"] - both["step_time_s"]) / both["step_time_s"]
    pred = result.predict_s(shapes_of(repeat))
    err = np.abs(pred - repeat["step_time_s"].to_numpy()) / repeat["step_time_s"].to_numpy()
    head = headline_table(repeat)
    ratios = ", ".join(f"{r:.2f}" for r in head["mixed_over_uniform"]) if len(head) else "n/a"
    return [
        "## Reproducibility (profile_repeat.csv: the same grid, a later run on a fresh machine)",
        "",
        f"- {len(both)} compositions in both runs; repeat vs first: mean {diff.mean():+.1%}, "
        f"median |difference| {diff.abs().median():.1%}, max |difference| {diff.abs().max():.1%}",
        f"- this fit (trained on the first run only) on the repeat: mean abs. relative error {err.mean():.1%}, "
        f"median {np.median(err):.1%}, max {err.max():.1%}",
        f"- headline mixed/uniform ratios in the repeat: {ratios}",
        "",
    ]


def write_report(path: Path, df: pd.DataFrame, result: FitResult, meta: dict[str, Any],
                 repeat: pd.DataFrame | None = None) -> None:
    """Write the markdown report for one profile and its fit."""
    head = headline_table(df) if "group" in df else pd.DataFrame()
    coef = pd.DataFrame({"feature": result.features, "coefficient": [f"{c:.4g}" for c in result.coefficients]})
    flags = meta.get("engine_kwargs", {})
    table = result.holdout.table.assign(abs_err=lambda t: t["error_pct"].abs()).sort_values("abs_err", ascending=False)
    lines = [
        f"# Step-time profile: {meta.get('model', '?')} on {meta.get('gpu_name', '?')}, {result.backend}",
        "",
        f"vLLM {meta.get('vllm_version', '?')}, torch {meta.get('torch_version', '?')}, attention backend "
        f"{result.backend} (recorded: `{meta.get('attention_backend', '?')}`, flash_attn_version "
        f"{meta.get('flash_attn_version')}; source: {meta.get('attention_backend_source', '?')}), CUDA graphs: "
        f"{meta.get('cudagraph_mode', '?')} (enforce_eager={meta.get('enforce_eager', '?')}), KV capacity "
        f"{meta.get('kv_capacity_tokens', '?')} tokens, "
        f"measured {meta.get('date_utc', '?')}.",
        f"Engine flags: `{flags}`. Step time = {meta.get('timing', 'median engine step')}; {result.num_rows} rows, "
        f"{result.num_compositions} compositions.",
        "",
        "## Headline: homogeneous vs mixed decode batch at equal batch size and total context tokens",
        "",
        _md_table(head) if len(head) else "(no headline rows measured)",
        "",
        "## Fit",
        "",
        "step_time_s = sum(coef * feature), nonnegative least squares on relative error "
        "(l4bench.l4.nnls.fit_relative) over every usable row; features: l4bench/perf/features.py "
        f"(the {result.backend} set unless overridden). Train mean abs. relative error {result.train_mape:.1%}. "
        f"Feature parameters: `{result.params}`.",
        "",
        _md_table(coef),
        "",
        *holdout_lines(df, result),
        "### Held-out compositions (first fold assignment, largest errors first)",
        "",
        _md_table(table.drop(columns="abs_err")),
        "",
    ]
    if repeat is not None and len(repeat):
        lines += repeat_lines(df, repeat, result)
    Path(path).write_text("\n".join(lines))
