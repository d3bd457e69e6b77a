"""Fig. 9: TPOT and E2E latency per prompt-length bucket at one request rate.

Buckets are summary.json's ``per_bucket`` (edges from ``length_buckets_tokens``). L4 ablations
are left out. Data: the middle rate of the ``fig_rates`` sweep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from l4bench.l4.names import is_l4_ablation
from l4bench.plotting.style import color_for, order_schedulers
from paper_figs.canvas import finish, legend_patches, new_figure
from paper_figs.common import (
    MissingDataError,
    latest_sweep,
    load_summary,
    pick_rate,
    run_at_rate,
    source_text,
    tidy,
)

NAME = "fig09_per_bucket"
EXPERIMENTS = ("fig_rates",)
PANELS = (("mean_tpot_ms", "mean TPOT (ms)", 1.0), ("mean_e2el_ms", "mean E2E (s)", 1e-3),
          ("p99_e2el_ms", "p99 E2E (s)", 1e-3))


def _bucket_label(b: dict) -> str:
    """'0-2k', '2k-8k', '128k+' from a per_bucket entry."""
    def k(v: float) -> str:
        return f"{v / 1024:g}k" if v >= 1024 else f"{v:g}"

    lo, hi = b.get("lo_tokens", 0), b.get("hi_tokens")
    return f"{k(lo)}+" if hi is None else f"{k(lo)}-{k(hi)}"


def build(results: Path) -> Figure:
    """Grouped bars: buckets on x, one bar per scheduler, three metrics."""
    runs = latest_sweep(results, "fig_rates")
    rate = pick_rate(tidy(runs))
    run = run_at_rate(runs, rate)
    doc = load_summary(run)
    per = {n: s.get("per_bucket") or [] for n, s in doc["schedulers"].items() if not is_l4_ablation(n)}
    names = [n for n in order_schedulers(per) if per[n]]
    if not names:
        raise MissingDataError("fig_rates summaries have no per_bucket entries; rerun fig_rates")
    buckets = [b for b in per[names[0]] if b.get("count")]
    labels = [f"{_bucket_label(b)}\n(n={b['count']})" for b in buckets]
    fig, axes = new_figure(1, len(PANELS), width=13.0, height=3.8)
    width = 0.8 / len(names)
    x = np.arange(len(buckets))
    for ax, (col, ylabel, scale) in zip(axes, PANELS, strict=True):
        for i, name in enumerate(names):
            by = {b["bucket"]: b for b in per[name]}
            vals = [(by.get(b["bucket"], {}).get(col) or np.nan) * scale for b in buckets]
            ax.bar(x - 0.4 + width * (i + 0.5), vals, width, color=color_for(name))
        ax.set_xticks(x, labels, fontsize=8)
        ax.set(xlabel="prompt length (tokens)", ylabel=ylabel, title=ylabel.split(" (")[0])
        ax.grid(axis="x", visible=False)
    legend_patches(fig, names)
    return finish(fig, f"Latency by prompt length at {rate:.2g} req/s", source_text(doc, run))


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
