"""Fig. 8: migration accounting against request rate: hops, recomputed tokens, stall time.

Only schedulers with at least one migration are drawn (l4_no_migration has no length hops but\nstill moves requests between peers of a stage when it balances load).
Data: the ``fig_rates`` sweep.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from paper_figs.canvas import finish, legend_lines, line_style, new_figure, note
from paper_figs.common import latest_sweep, load_summary, schedulers_in, source_text, tidy

NAME = "fig08_migration"
EXPERIMENTS = ("fig_rates",)
PANELS = (("migrations", "migrations (count)", 1.0),
          ("recomputed_tokens", "recomputed tokens (millions)", 1e-6),
          ("stall_s_total", "stall time, all requests (s)", 1.0))


def build(results: Path) -> Figure:
    """Three panels of migration cost against the offered rate."""
    runs = latest_sweep(results, "fig_rates")
    df = tidy(runs)
    moved = df.groupby("scheduler")["migrations"].max()
    names = [n for n in schedulers_in(df) if moved.get(n, 0) > 0]
    fig, axes = new_figure(1, len(PANELS), width=12.5, height=3.6)
    for ax, (col, ylabel, scale) in zip(axes, PANELS, strict=True):
        for name in names:
            d = df[df["scheduler"] == name].sort_values("offered_rate")
            ax.plot(d["offered_rate"], d[col] * scale, **line_style(name))
        ax.set(xlabel="offered request rate (req/s)", ylabel=ylabel, title=ylabel.split(" (")[0].split(",")[0])
        ax.set_ylim(bottom=0)
        if not names:
            note(ax, "no scheduler migrated")
    if names:
        legend_lines(fig, names)
    doc = load_summary(runs[0])
    n = int(df["num_prompts"].max())
    return finish(fig, f"Migration cost vs request rate ({n} requests per run)", source_text(doc, runs[0].parent))


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
