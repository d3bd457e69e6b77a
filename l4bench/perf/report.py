"""fit_report.md: the profile's headline, the fit's coefficients and its held-out error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from l4bench.perf.fit import FitResult, headline_table, shapes_of


def _md_table(df: pd.DataFrame, floatfmt: str = "{:.2f}") -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [floatfmt.format(v) if isinstance(v, (float, np.floating)) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _errors_table(df: pd.DataFrame, result: FitResult) -> pd.DataFrame:
    rows = df[df["name"].isin(result.holdout_names)].reset_index(drop=True)
    pred = result.predict_s(shapes_of(rows)) if len(rows) else np.array([])
    return pd.DataFrame({
        "composition": rows["name"], "measured_ms": rows["step_time_s"] * 1e3, "predicted_ms": pred * 1e3,
        "error_pct": (pred - rows["step_time_s"].to_numpy()) / rows["step_time_s"].to_numpy() * 100,
    })


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
                 stability: dict[str, float] | None = None, repeat: pd.DataFrame | None = None) -> None:
    """Write the markdown report for one profile and its fit."""
    stab = stability or {}
    stab_line = (f"- over {stab['num_splits']} other random 80/20 splits: held-out mean error "
                 f"{stab['holdout_mape_mean']:.1%} on average, {stab['holdout_mape_worst']:.1%} in the worst split; "
                 f"worst single composition {stab['holdout_max_ape_worst']:.1%}" if stab else "")
    head = headline_table(df)
    coef = pd.DataFrame({"feature": result.features, "coefficient": [f"{c:.4g}" for c in result.coefficients]})
    flags = meta.get("engine_kwargs", {})
    lines = [
        f"# Step-time profile: {meta.get('model', '?')} on {meta.get('gpu_name', '?')}",
        "",
        f"vLLM {meta.get('vllm_version', '?')}, torch {meta.get('torch_version', '?')}, "
        f"CUDA graphs: {meta.get('cudagraph_mode', '?')} (enforce_eager={meta.get('enforce_eager', '?')}), "
        f"KV capacity {meta.get('kv_capacity_tokens', '?')} tokens, measured {meta.get('date_utc', '?')}.",
        f"Engine flags: `{flags}`. Dummy weights, token-id prompts, ignore_eos, prefix caching on.",
        f"Step time = {meta.get('timing', 'median engine step')}; {len(df)} compositions "
        f"({meta.get('num_planned', '?')} planned, stopped by budget: {meta.get('stopped_by_budget', '?')}).",
        "",
        "## Headline: homogeneous vs mixed decode batch at equal batch size and total context tokens",
        "",
        _md_table(head) if len(head) else "(no headline rows measured)",
        "",
        "## Fit",
        "",
        "step_time_s = sum(coef * feature), nonnegative least squares weighted by 1/time "
        f"(l4bench/perf/fit.py). Trained on {len(result.train_names)} compositions, "
        f"held out {len(result.holdout_names)} (seeded random 20%).",
        "",
        f"- train mean abs. relative error: {result.train_mape:.1%}",
        f"- **held-out mean abs. relative error: {result.holdout_mape:.1%}** "
        f"(max {result.holdout_max_ape:.1%}; goal <= 10%)",
        stab_line,
        f"- feature parameters: `{result.params}` (no_cudagraph = step larger than the biggest CUDA graph)",
        "",
        _md_table(coef),
        "",
        "### Held-out compositions",
        "",
        _md_table(_errors_table(df, result)),
        "",
    ]
    if repeat is not None and len(repeat):
        lines += repeat_lines(df, repeat, result)
    Path(path).write_text("\n".join(lines))
