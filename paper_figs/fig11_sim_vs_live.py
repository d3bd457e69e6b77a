"""Fig. 11: simulator vs live cluster on the same workload, per scheduler.

Data: ``fig_live`` (live engines; needs GPUs: ``python -m l4bench +experiment=fig_live``) and
``fig_live_sim`` (the same workload, cluster and schedulers in the simulator). Skipped until a live
run exists.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from l4bench.plotting.style import color_for, label_for, order_schedulers
from paper_figs.canvas import finish, new_figure
from paper_figs.common import (
    MissingDataError,
    latest_run,
    latest_sweep,
    load_summary,
    offered_rate,
    run_at_rate,
    source_text,
)

NAME = "fig11_sim_vs_live"
EXPERIMENTS = ("fig_live", "fig_live_sim")
#: (live, sim) experiment pairs tried in order.
PAIRS = (("fig_live", "fig_live_sim"), ("live_gpu_pair", "live_gpu_pair_sim"))
#: Committed live runs kept outside results/<experiment>/ (issue #5: results/live/...), with their sim twin.
LIVE_RUN_DIRS = (
    ("live/gpu_pair2_h100/rate6.0", "live_gpu_pair2_sim"),
    ("live/gpu_pair_h100/rate3.0", "live_gpu_pair_sim"),
)
#: Facts about a live run that its summary cannot tell (shown in the title).
LIVE_NOTES = {
    "gpu_pair2_h100": "live: 2 vLLM 0.25.0 instances, one H100 each, 6 req/s; sim: fitted H100 model "
    "with a -2.2 ms step offset calibrated on least_requests at 3 req/s",
    "gpu_pair_h100": "live: 2 vLLM instances sharing ONE H100; sim: a whole H100 each",
}
PANELS = (("mean_ttft_ms", "mean TTFT (ms)"), ("mean_tpot_ms", "mean TPOT (ms)"),
          ("mean_e2el_ms", "mean E2E (ms)"), ("p99_e2el_ms", "p99 E2E (ms)"))


def _pair(results: Path) -> tuple[Path, Path]:
    """Newest live run of the first pair that has both halves, and the sim run at the closest rate."""
    for live_exp, sim_exp in PAIRS:
        try:
            live_run = latest_run(results, live_exp)
            sims = latest_sweep(results, sim_exp)
        except MissingDataError:
            continue
        return live_run, run_at_rate(sims, offered_rate(load_summary(live_run)))
    for live_dir, sim_exp in LIVE_RUN_DIRS:
        if (results / live_dir / "summary.json").is_file():
            try:
                sims = latest_sweep(results, sim_exp)
            except MissingDataError:
                continue
            live_run = results / live_dir
            return live_run, run_at_rate(sims, offered_rate(load_summary(live_run)))
    raise MissingDataError("no live run with a sim twin; make them with: python -m l4bench +experiment=fig_live "
                           "(live engines, GPUs) and python -m l4bench +experiment=fig_live_sim")


def build(results: Path) -> Figure:
    """Paired bars per scheduler: live (solid) and sim (hatched), four latency metrics."""
    live_run, sim_run = _pair(results)
    live, sim = load_summary(live_run), load_summary(sim_run)
    names = order_schedulers(n for n in live["schedulers"] if n in sim["schedulers"])
    if not names:
        raise MissingDataError("fig_live and fig_live_sim share no scheduler; rerun both")
    fig, axes = new_figure(1, len(PANELS), width=13.0, height=3.6)
    x = np.arange(len(names))
    for ax, (col, ylabel) in zip(axes, PANELS, strict=True):
        for off, doc, hatch, alpha in ((-0.2, live, None, 1.0), (0.2, sim, "///", 0.45)):
            vals = [doc["schedulers"][n].get(col) or np.nan for n in names]
            ax.bar(x + off, vals, 0.4, color=[color_for(n) for n in names], hatch=hatch, alpha=alpha,
                   edgecolor=[color_for(n) for n in names])
        ax.set_xticks(x, [label_for(n) for n in names], rotation=30, ha="right", fontsize=8)
        ax.set(ylabel=ylabel, title=ylabel.split(" (")[0])
        ax.grid(axis="x", visible=False)
    fig.legend([Patch(facecolor="0.3"), Patch(facecolor="0.3", alpha=0.45, hatch="///")], ["live", "sim"],
               loc="outside right center")
    source = f"{source_text(live, live_run)}\n{source_text(sim, sim_run)}"
    note = next((v for k, v in LIVE_NOTES.items() if k in str(live_run)), "")
    return finish(fig, "Simulator vs live cluster, same workload" + (f"\n({note})" if note else ""), source)


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
