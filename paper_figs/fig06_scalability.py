"""Fig. 6: scalability from 4 to 64 simulated instances, the offered rate scaled with the cluster.

Panels: mean E2E, p99 E2E and per-instance throughput against the number of instances.
Data: the ``fig_scale`` sweep (``python -m l4bench -m +experiment=fig_scale``).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from paper_figs.canvas import PLAIN, finish, legend_lines, line_style, new_figure, plain_log
from paper_figs.common import latest_sweep, load_summary, schedulers_in, source_text, tidy

NAME = "fig06_scalability"
EXPERIMENTS = ("fig_scale",)


def build(results: Path) -> Figure:
    """Three panels against num_instances (log2 x axis)."""
    runs = latest_sweep(results, "fig_scale")
    df = tidy(runs)
    df["per_instance_tput"] = df["request_throughput"] / df["num_instances"]
    df["rate_per_instance"] = df["offered_rate"] / df["num_instances"]
    names = schedulers_in(df)
    fig, axes = new_figure(1, 3, width=12.5, height=3.6)
    panels = (("mean_e2el_ms", "mean E2E latency (s)", 1e-3, True),
              ("p99_e2el_ms", "p99 E2E latency (s)", 1e-3, True),
              ("per_instance_tput", "throughput per instance (req/s)", 1.0, False))
    for ax, (col, ylabel, scale, log) in zip(axes, panels, strict=True):
        for name in names:
            d = df[df["scheduler"] == name].sort_values("num_instances")
            ax.plot(d["num_instances"], d[col] * scale, **line_style(name))
        ax.set(xlabel="instances", ylabel=ylabel, title=ylabel.split(" (")[0])
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(df["num_instances"].unique()))
        ax.xaxis.set_major_formatter(PLAIN)
        ax.xaxis.set_minor_locator(NullLocator())
        if log:
            ax.set_yscale("log")
            plain_log(ax.yaxis)
    legend_lines(fig, names)
    per_inst = df["rate_per_instance"].median()
    doc = load_summary(runs[-1])
    title = f"Scaling the cluster at {per_inst:.2g} req/s per instance"
    return finish(fig, title, source_text(doc, runs[-1].parent).replace(f"{doc['meta'].get('num_instances')}x ", "Nx "))


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
