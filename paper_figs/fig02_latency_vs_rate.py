"""Fig. 2: mean and p99 end-to-end latency vs offered request rate, one line per scheduler.

Data: the ``fig_rates`` sweep (``python -m l4bench -m +experiment=fig_rates``). L4 ablations are
left to Fig. 5.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from paper_figs.canvas import finish, legend_lines, line_style, new_figure, plain_log
from paper_figs.common import latest_sweep, load_summary, schedulers_in, source_text, tidy

NAME = "fig02_latency_vs_rate"
EXPERIMENTS = ("fig_rates",)


def build(results: Path) -> Figure:
    """Two panels (mean, p99 E2E in seconds, log y) against the offered rate (req/s)."""
    runs = latest_sweep(results, "fig_rates")
    df = tidy(runs)
    names = schedulers_in(df, include_ablations=False)
    fig, (ax_mean, ax_p99) = new_figure(1, 2, width=10.5, height=3.8)
    for ax, col, what in ((ax_mean, "mean_e2el_ms", "mean"), (ax_p99, "p99_e2el_ms", "p99")):
        for name in names:
            d = df[df["scheduler"] == name].sort_values("offered_rate")
            ax.plot(d["offered_rate"], d[col] / 1e3, **line_style(name))
        ax.set(xlabel="offered request rate (req/s)", ylabel=f"{what} E2E latency (s)", yscale="log",
               title=f"{what} end-to-end latency")
        plain_log(ax.yaxis)
    legend_lines(fig, names)
    doc = load_summary(runs[0])
    return finish(fig, "End-to-end latency vs request rate", source_text(doc, runs[0].parent))


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
