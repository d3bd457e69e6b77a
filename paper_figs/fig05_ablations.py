"""Fig. 5: ablations of L4 at one request rate: without DP, range refinement, balancing, migration.

Bars: mean E2E, p99 E2E and mean TPOT of L4 and each ablation; the hatched bar is the best
baseline on that metric. Data: the middle rate of the ``fig_rates`` sweep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from l4bench.l4.names import is_l4_family
from l4bench.plotting.style import color_for, label_for
from paper_figs.canvas import finish, new_figure
from paper_figs.common import (
    MissingDataError,
    latest_sweep,
    load_summary,
    pick_rate,
    run_at_rate,
    schedulers_in,
    source_text,
    tidy,
)

NAME = "fig05_ablations"
EXPERIMENTS = ("fig_rates",)
PANELS = (("mean_e2el_ms", "mean E2E (s)", 1e-3), ("p99_e2el_ms", "p99 E2E (s)", 1e-3),
          ("mean_tpot_ms", "mean TPOT (ms)", 1.0))


def build(results: Path) -> Figure:
    """Three bar panels over L4 and its ablations, with the best baseline as a hatched reference bar."""
    runs = latest_sweep(results, "fig_rates")
    rate = pick_rate(tidy(runs))
    run = run_at_rate(runs, rate)
    df = tidy([run])
    names = [n for n in schedulers_in(df) if is_l4_family(n)]
    if len(names) < 2:
        raise MissingDataError("fig_rates has no L4 ablations (l4_no_dp, ...); rerun fig_rates with them")
    baselines = [n for n in schedulers_in(df) if not is_l4_family(n)]
    best = {col: str(df[df["scheduler"].isin(baselines)].sort_values(col).iloc[0]["scheduler"])
            for col, _, _ in PANELS} if baselines else {}
    fig, axes = new_figure(1, len(PANELS), width=12.5, height=3.8)
    for ax, (col, ylabel, scale) in zip(axes, PANELS, strict=True):
        shown = names + ([best[col]] if col in best else [])
        x = np.arange(len(shown))
        vals = [float(df.loc[df["scheduler"] == n, col].iloc[0]) * scale for n in shown]
        bars = ax.bar(x, vals, color=[color_for(n) for n in shown])
        if col in best:
            bars[-1].set(hatch="///", alpha=0.55, edgecolor=color_for(best[col]))
        for xi, v in zip(x, vals, strict=True):
            ax.text(xi, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8)
        labels = [label_for(n).replace("L4 w/o ", "w/o\n") for n in names]
        labels += [f"best\nbaseline:\n{label_for(best[col])}"] if col in best else []
        ax.set_xticks(x, labels, fontsize=8)
        ax.set(ylabel=ylabel, title=ylabel.split(" (")[0])
        ax.margins(y=0.15)
        ax.grid(axis="x", visible=False)
    doc = load_summary(run)
    return finish(fig, f"L4 ablations at {rate:.2g} req/s", source_text(doc, run))


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
