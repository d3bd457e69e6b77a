"""The figures written with every run: E2E CDF, latency bars, per-length-bucket latency.

Reads only a records frame (``metrics.frame.records_frame``) and summary entries
(``metrics.summary.summarize``), so the same figures can be redrawn from results/ later.
Uses ``matplotlib.figure.Figure`` directly (no pyplot, no global state, no display).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from l4bench.plotting.style import color_for, label_for, linestyle_for, order_schedulers, style_rc

_PLAIN = mpl.ticker.FuncFormatter(lambda v, _pos: f"{v:g}")
# label minor ticks only on short log ranges, where there are few major ones
_PLAIN_MINOR = mpl.ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(1.5, 0.5))


def _legend(fig: Figure, names: list[str]) -> None:
    """One legend for the whole figure, right of the axes, in scheduler order."""
    handles = [Line2D([], [], color=color_for(n), ls=linestyle_for(n), lw=2) for n in names]
    fig.legend(handles, [label_for(n) for n in names], loc="outside right center")


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path)
    return path


def e2e_cdf(df: pd.DataFrame, names: list[str], title: str, path: Path) -> Path:
    """CDF of E2E latency (left) and its tail as 1 - CDF on log axes (right), per scheduler."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_cdf, ax_tail = fig.subplots(1, 2)
    done = df[df["is_completed"]] if len(df) else df
    shown: list[str] = []
    spans: list[tuple[float, float]] = []
    for name in names:
        e2el_s = np.sort(done.loc[done["scheduler"] == name, "e2el_ms"].to_numpy(dtype=float) / 1e3)
        e2el_s = e2el_s[np.isfinite(e2el_s)]
        if e2el_s.size == 0:
            continue
        shown.append(name)
        spans.append((float(e2el_s[0]), float(e2el_s[-1])))
        frac = np.arange(1, e2el_s.size + 1) / e2el_s.size
        style = {"color": color_for(name), "ls": linestyle_for(name), "lw": 1.6}
        ax_cdf.step(e2el_s, frac, where="post", **style)
        ax_tail.step(e2el_s, np.clip(1.0 - frac + 1.0 / e2el_s.size, 1e-6, 1), where="post", **style)
    ax_cdf.set(xlabel="E2E latency (s)", ylabel="fraction of requests", ylim=(0, 1.01), title="CDF")
    ax_tail.set(xlabel="E2E latency (s)", ylabel="fraction of requests >= x", title="tail", yscale="log")
    lo_s = min((a for a, _ in spans), default=0.0)
    hi_s = max((b for _, b in spans), default=0.0)
    for ax in (ax_cdf, ax_tail):
        if spans and lo_s > 0 and hi_s / lo_s > 20:  # log x only when latencies span decades
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(_PLAIN)
            ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    if shown:
        _legend(fig, shown)
    fig.suptitle(f"E2E latency of completed requests\n{title}")
    return _save(fig, path)


_BAR_METRICS: tuple[tuple[str, str], ...] = (
    ("ttft_ms", "TTFT"),
    ("tpot_ms", "TPOT"),
    ("e2el_ms", "E2E latency"),
)


def _unit(values_ms: list[float]) -> tuple[str, float]:
    """Seconds when the largest value is at least 1 s, else ms: (unit, factor from ms)."""
    finite = [v for v in values_ms if math.isfinite(v)]
    return ("s", 1e-3) if finite and max(finite) >= 1000.0 else ("ms", 1.0)


def interval_ms(summary: dict[str, Any], key: str) -> tuple[float, float, str]:
    """(low, high, kind) of a summary field's 95% CI: over repeats when there are >= 2, else the
    run's request-level bootstrap; NaNs and "" when neither is recorded."""
    ci = (summary.get("ci95") or {}).get(key) or {}
    if ci.get("low") is not None and ci.get("high") is not None:
        return float(ci["low"]), float(ci["high"]), "repeats"
    boot = (summary.get("bootstrap_ci95") or {}).get(key) or {}
    if boot.get("low") is not None and boot.get("high") is not None:
        return float(boot["low"]), float(boot["high"]), "bootstrap"
    return float("nan"), float("nan"), ""


def _xerr(summaries: dict[str, dict[str, Any]], names: list[str], key: str, vals_ms: list[float]) -> tuple[np.ndarray, set[str]]:
    """Asymmetric error-bar lengths (2 x n, ms) around vals_ms, and the CI kinds used."""
    err = np.zeros((2, len(names)))
    kinds = set()
    for i, (n, v) in enumerate(zip(names, vals_ms, strict=True)):
        lo, hi, kind = interval_ms(summaries.get(n, {}), key)
        if kind and math.isfinite(v):
            err[:, i] = (max(v - lo, 0.0), max(hi - v, 0.0))
            kinds.add(kind)
    return err, kinds


def latency_bars(summaries: dict[str, dict[str, Any]], names: list[str], title: str, path: Path) -> Path:
    """Mean (top row) and p99 (bottom row) of TTFT, TPOT and E2E per scheduler, as bars with 95% CIs."""
    fig = Figure(figsize=(12, 1.5 + 0.55 * max(len(names), 3)), layout="constrained")
    axes = fig.subplots(2, len(_BAR_METRICS), sharey=True)
    y = np.arange(len(names))
    every_kind: set[str] = set()
    for row, stat in enumerate(("mean", "p99")):
        for col, (metric, what) in enumerate(_BAR_METRICS):
            ax: Axes = axes[row][col]
            vals_ms = [_num(summaries.get(n, {}).get(f"{stat}_{metric}")) for n in names]
            unit, scale = _unit(vals_ms)
            vals = [v * scale for v in vals_ms]
            err, kinds = _xerr(summaries, names, f"{stat}_{metric}", vals_ms)
            ax.barh(y, vals, color=[color_for(n) for n in names], height=0.75,
                    xerr=err * scale if kinds else None, error_kw={"elinewidth": 1, "capsize": 2})
            every_kind |= kinds
            for yi, v, up in zip(y, vals, err[1] * scale, strict=True):
                text, at = (_fmt(v), v + up) if math.isfinite(v) else ("n/a", 0.0)  # right of the CI
                ax.annotate(
                    text, (at, yi), xytext=(2, 0), textcoords="offset points", va="center", fontsize=7
                )
            ax.set_title(f"{stat} {what}")
            ax.set_xlabel(f"{what} ({unit})")
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=5))
            ax.margins(x=0.18)
    axes[0][0].set_yticks(y, [label_for(n) for n in names])
    axes[0][0].invert_yaxis()
    fig.suptitle(f"Latency per scheduler (completed requests){_ci_words(every_kind)}\n{title}")
    return _save(fig, path)


def _ci_words(kinds: set[str]) -> str:
    """What the error bars are, for a figure title."""
    words = {"repeats": "t-interval over repeats", "bootstrap": "request bootstrap within the run"}
    return f"; bars: 95% CI ({', '.join(words[k] for k in sorted(kinds))})" if kinds else ""


def ratio_to_best(versus: dict[str, Any], names: list[str], title: str, path: Path) -> Path:
    """Each scheduler's mean E2E over the best baseline's, with its paired 95% CI (1 = the best baseline)."""
    per = versus.get("schedulers") or {}
    shown = [n for n in names if (per.get(n) or {}).get("ratio") is not None]
    fig = Figure(figsize=(7, 1.4 + 0.4 * max(len(shown), 3)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(shown))
    vals = np.array([float(per[n]["ratio"]) for n in shown])
    lo = np.array([_num(per[n].get("low")) for n in shown])
    hi = np.array([_num(per[n].get("high")) for n in shown])
    err = np.nan_to_num(np.vstack([vals - lo, hi - vals]), nan=0.0).clip(min=0.0)
    for yi, n in enumerate(shown):  # points with CI whiskers: ratios sit near 1, bars from 0 would hide them
        ax.errorbar(vals[yi], yi, xerr=err[:, yi : yi + 1], fmt="o", color=color_for(n), capsize=4, ms=6)
        ax.annotate(f"{vals[yi]:.3f}", (vals[yi], yi), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=7)
    ax.axvline(1.0, color="k", lw=1, ls="--")
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_yticks(y, [label_for(n) for n in shown])
    method = next((str(per[n].get("method")) for n in shown if per[n].get("low") is not None), "no CI")
    ax.set_xlabel(f"mean E2E / best baseline's ({versus.get('best_baseline')})")
    fig.suptitle(f"Mean E2E relative to the best baseline; bars: 95% CI ({method})\n{title}", fontsize=9)
    return _save(fig, path)


def per_bucket(summaries: dict[str, dict[str, Any]], names: list[str], title: str, path: Path) -> Path:
    """Mean E2E latency and mean TPOT per prompt-length bucket, one line per scheduler."""
    fig = Figure(figsize=(12, 4.4), layout="constrained")
    ax_e2e, ax_tpot = fig.subplots(1, 2, sharex=True)
    buckets = _bucket_labels(summaries, names)
    x = np.arange(len(buckets))
    shown = []
    for name in names:
        rows = {b["bucket"]: b for b in summaries.get(name, {}).get("per_bucket", [])}
        if not rows:
            continue
        shown.append(name)
        style = {"color": color_for(name), "ls": linestyle_for(name), "marker": "o", "ms": 4, "lw": 1.6}
        e2e = [_num(rows.get(b, {}).get("mean_e2el_ms")) / 1e3 for b in buckets]
        tpot = [_num(rows.get(b, {}).get("mean_tpot_ms")) for b in buckets]
        ax_e2e.plot(x, e2e, **style)
        ax_tpot.plot(x, tpot, **style)
    ticks = [f"{_short_bucket(summaries, b)}\nn={_bucket_total(summaries, b)}" for b in buckets]
    for ax, ylabel, name in ((ax_e2e, "mean E2E latency (s)", "E2E"), (ax_tpot, "mean TPOT (ms)", "TPOT")):
        ax.set_xticks(x, ticks)
        ax.set(xlabel="prompt length (tokens)", ylabel=ylabel, title=f"mean {name} by prompt length")
        if _has_positive(ax):
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(_PLAIN)
            ax.yaxis.set_minor_formatter(_PLAIN_MINOR)
    if shown:
        _legend(fig, shown)
    fig.suptitle(f"Latency by prompt length\n{title}")
    return _save(fig, path)


def _has_positive(ax: Axes) -> bool:
    """Whether any line of ``ax`` has a finite positive y value (else a log axis would fail)."""
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        if np.any(np.isfinite(y) & (y > 0)):
            return True
    return False


def _bucket_labels(summaries: dict[str, dict[str, Any]], names: list[str]) -> list[str]:
    """Labels of buckets holding any request, in ascending order of their lower edge."""
    lo: dict[str, int] = {}
    for name in names:
        for b in summaries.get(name, {}).get("per_bucket", []):
            if int(b.get("count", 0)) + int(b.get("failed", 0)) > 0:
                lo.setdefault(b["bucket"], int(b.get("lo_tokens") or 0))
    return sorted(lo, key=lo.__getitem__)


def _tokens_word(n: float) -> str:
    """2048 -> '2k', 131072 -> '128k', 1000 -> '1000'."""
    if math.isinf(n):
        return "inf"
    return f"{int(n) // 1024}k" if n >= 1024 and int(n) % 1024 == 0 else str(int(n))


def _short_bucket(summaries: dict[str, dict[str, Any]], bucket: str) -> str:
    """Compact tick label: '2k-8k', '>=128k'."""
    for s in summaries.values():
        for b in s.get("per_bucket", []):
            if b["bucket"] == bucket and "lo_tokens" in b:
                lo, hi = b["lo_tokens"], b.get("hi_tokens")
                return f">={_tokens_word(lo)}" if hi is None else f"{_tokens_word(lo)}-{_tokens_word(hi)}"
    return bucket


def _bucket_total(summaries: dict[str, dict[str, Any]], bucket: str) -> int:
    """Requests in a bucket (completed + failed) as one scheduler saw them (the same workload)."""
    for s in summaries.values():
        for b in s.get("per_bucket", []):
            if b["bucket"] == bucket:
                return int(b.get("count", 0)) + int(b.get("failed", 0))
    return 0


def _num(v: Any) -> float:
    """None/missing -> NaN, else float."""
    return float("nan") if v is None else float(v)


def _fmt(v: float) -> str:
    """Short bar label: 3 significant digits."""
    return f"{v:.3g}"


def write_run_figures(
    df: pd.DataFrame, summaries: dict[str, dict[str, Any]], out_dir: Path, title: str,
    versus: dict[str, Any] | None = None,
) -> list[Path]:
    """Write e2e_cdf.png, latency_bars.png, per_bucket.png (and vs_best.png) into ``out_dir``.

    Args:
        df: the run's records frame (scheduler, is_completed, e2el_ms columns are used).
        summaries: scheduler name -> its summary.json entry.
        title: names the data source, e.g. "sim | 4x H100 | Llama-3.1-8B | longbench".
        versus: summary.json's versus_best_baseline (vs_best.png is drawn when it has ratios).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame_names = df["scheduler"].astype(str).unique().tolist() if len(df) else []
    names = order_schedulers([*summaries, *frame_names])
    # constrained layout already fits the outside legend; a tight bbox would cost a second draw
    rc: Any = {**style_rc(), "savefig.bbox": "standard", "savefig.dpi": 120}
    with mpl.rc_context(rc):
        paths = [
            e2e_cdf(df, names, title, out / "e2e_cdf.png"),
            latency_bars(summaries, names, title, out / "latency_bars.png"),
            per_bucket(summaries, names, title, out / "per_bucket.png"),
        ]
        if versus and versus.get("schedulers"):
            paths.append(ratio_to_best(versus, names, title, out / "vs_best.png"))
        return paths
