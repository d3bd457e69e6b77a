"""Fig. 7: time of L4's DP re-plan (cost table + partition) over length bins x instances.

Data: ``results/bench/dp_solve_time.csv`` from ``python benchmarks/bench_dp_grid.py`` (CPU timings).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator

from paper_figs.canvas import PLAIN, finish, new_figure, plain_log
from paper_figs.common import MissingDataError, rel

NAME = "fig07_dp_solve_time"
EXPERIMENTS = ("bench_dp_grid",)
CSV = Path("bench") / "dp_solve_time.csv"


def build(results: Path) -> Figure:
    """Solve time (solid) and cost-table time (dashed) in ms against instances, one colour per bin count."""
    path = Path(results) / CSV
    if not path.is_file():
        raise MissingDataError(f"no results/{CSV.as_posix()}; make it with: python benchmarks/bench_dp_grid.py")
    df = pd.read_csv(path)
    facts_path = path.with_suffix(".json")
    facts = json.loads(facts_path.read_text()) if facts_path.is_file() else {}
    bins = sorted(df["num_bins"].unique())
    colors = sns.color_palette("crest", len(bins))
    fig, (ax_total, ax_parts) = new_figure(1, 2, width=10.5, height=3.8)
    for k, color in zip(bins, colors, strict=True):
        d = df[df["num_bins"] == k].sort_values("num_instances")
        ax_total.plot(d["num_instances"], (d["solve_s"] + d["table_s"]) * 1e3, color=color, marker="o", ms=4,
                      label=f"{k} bins")
        ax_parts.plot(d["num_instances"], d["solve_s"] * 1e3, color=color, marker="o", ms=4)
        ax_parts.plot(d["num_instances"], d["table_s"] * 1e3, color=color, ls="--", marker="s", ms=3)
    for ax, title in ((ax_total, "one re-plan (table + DP)"), (ax_parts, "DP solve vs cost table")):
        ax.set(xlabel="instances", ylabel="time (ms)", title=title, yscale="log")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(df["num_instances"].unique()))
        ax.xaxis.set_major_formatter(PLAIN)
        ax.xaxis.set_minor_locator(NullLocator())
        plain_log(ax.yaxis)
    ax_total.legend(title="length bins", fontsize=8, title_fontsize=8, loc="upper left")
    ax_parts.legend([Line2D([], [], color="0.3"), Line2D([], [], color="0.3", ls="--", marker="s", ms=3)],
                    ["DP partition", "cost table C(i, j, m)"], fontsize=8, loc="upper left")
    cpu = f"{facts.get('processor', '?')}, {facts.get('cpu_count', '?')} cores, numpy {facts.get('numpy', '?')}"
    source = (f"Data: benchmarks/bench_dp_grid.py on CPU ({cpu}); cost model: {facts.get('model', '?')} on "
              f"{str(facts.get('gpu', '?')).upper()} ({facts.get('perf_model', '?')}) | {rel(path)}")
    return finish(fig, "L4 re-plan time vs length bins and instances", source)


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
