"""Fig. 3: distribution of end-to-end latency at one request rate, one line per scheduler.

Data: the middle rate of the ``fig_rates`` sweep, from each run's e2e_cdf.csv (written by
``python -m paper_figs.cdf --experiment fig_rates``) or its requests.parquet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from l4bench.l4.names import is_l4_ablation
from l4bench.plotting.style import order_schedulers
from paper_figs.canvas import PLAIN, finish, legend_lines, line_style, new_figure, plain_log
from paper_figs.cdf import load_quantiles
from paper_figs.common import (
    latest_sweep,
    load_summary,
    offered_rate,
    pick_rate,
    run_at_rate,
    source_text,
    tidy,
)

NAME = "fig03_e2e_cdf"
EXPERIMENTS = ("fig_rates",)


def build(results: Path) -> Figure:
    """CDF (left) and tail 1 - CDF on log axes (right) of E2E latency in seconds."""
    runs = latest_sweep(results, "fig_rates")
    run = run_at_rate(runs, pick_rate(tidy(runs)))
    q = load_quantiles(run)
    names = [n for n in order_schedulers(q["scheduler"].unique()) if not is_l4_ablation(n)]
    fig, (ax_cdf, ax_tail) = new_figure(1, 2, width=10.5, height=3.8)
    for name in names:
        d = q[q["scheduler"] == name].sort_values("quantile")
        x_s, frac = d["e2el_ms"].to_numpy() / 1e3, d["quantile"].to_numpy()
        style = {**line_style(name), "marker": None}
        ax_cdf.plot(x_s, frac, **style)
        tail = frac < 1.0
        ax_tail.plot(x_s[tail], np.maximum(1.0 - frac[tail], 1e-3), **style)
    ax_cdf.set(xlabel="E2E latency (s)", ylabel="fraction of requests", ylim=(0, 1.01), xscale="log", title="CDF")
    ax_tail.set(xlabel="E2E latency (s)", ylabel="fraction of requests slower", xscale="log", yscale="log",
                ylim=(8e-4, 1.05), title="tail (1 - CDF)")
    for ax in (ax_cdf, ax_tail):
        plain_log(ax.xaxis)
    ax_tail.yaxis.set_major_formatter(PLAIN)
    legend_lines(fig, names, marker=None)
    doc = load_summary(run)
    title = f"E2E latency distribution at {offered_rate(doc):.2g} req/s"
    return finish(fig, title, source_text(doc, run))


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
