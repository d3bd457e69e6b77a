"""Fig. 4: the highest request rate each scheduler sustains while meeting the SLO.

A rate "meets the SLO" when at least ATTAINMENT of its requests meet every SLO set in the run
(summary.json ``slo``: TTFT and TPOT limits; goodput counts them). Between swept rates the
attainment is interpolated linearly; a bar marked ">=" still met the SLO at the highest swept rate.
Data: the ``fig_rates`` sweep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from l4bench.plotting.style import color_for, label_for
from paper_figs.canvas import finish, new_figure
from paper_figs.common import latest_sweep, load_summary, schedulers_in, source_text, tidy

NAME = "fig04_max_rate_slo"
EXPERIMENTS = ("fig_rates",)
ATTAINMENT = 0.9


def max_rate(rates: np.ndarray, attained: np.ndarray, target: float = ATTAINMENT) -> tuple[float, str]:
    """Highest rate with attainment >= target (interpolated) and a flag: '' | '>=' (never failed) | '<' (never met)."""
    order = np.argsort(rates)
    rates, attained = rates[order], attained[order]
    ok = attained >= target
    if ok.all():
        return float(rates[-1]), ">="
    if not ok[0]:
        return float(rates[0]), "<"
    i = int(np.argmin(ok)) - 1  # last meeting point before the first failure
    r0, r1, a0, a1 = rates[i], rates[i + 1], attained[i], attained[i + 1]
    return float(r0 + (r1 - r0) * (a0 - target) / (a0 - a1)), ""


def _slo_words(doc: dict) -> str:
    s = next(iter(doc["schedulers"].values()), {}).get("slo", {}) or {}
    parts = [f"{k.replace('_ms', '').upper()} <= {v / 1e3:g} s" if v >= 1000 else f"{k.replace('_ms', '').upper()} <= {v:g} ms"
             for k, v in s.items() if v is not None and k.endswith("_ms")]
    return ", ".join(parts) or "no SLO set"


def build(results: Path) -> Figure:
    """Horizontal bars: max sustainable rate (req/s) per scheduler."""
    runs = latest_sweep(results, "fig_rates")
    df = tidy(runs)
    df["attained"] = df["num_good_requests"] / df["num_prompts"]
    names = schedulers_in(df)
    rows = []
    for name in names:
        d = df[df["scheduler"] == name].dropna(subset=["offered_rate", "attained"])
        if len(d):
            rate, flag = max_rate(d["offered_rate"].to_numpy(float), d["attained"].to_numpy(float))
            rows.append({"scheduler": name, "rate": 0.0 if flag == "<" else rate, "flag": flag})
    res = pd.DataFrame(rows)
    fig, (ax,) = new_figure(1, 1, width=7.5, height=0.38 * max(len(res), 3) + 1.2)
    y = np.arange(len(res))
    ax.barh(y, res["rate"], color=[color_for(n) for n in res["scheduler"]])
    xmax = float(df["offered_rate"].max())
    for yi, (rate, flag) in enumerate(zip(res["rate"], res["flag"], strict=True)):
        text = f"< {df['offered_rate'].min():.2g}" if flag == "<" else f"{flag} {rate:.2f}".strip()
        ax.text(rate + 0.01 * xmax, yi, text, va="center", fontsize=9)
    ax.set_yticks(y, [label_for(n) for n in res["scheduler"]])
    ax.invert_yaxis()
    ax.set(xlabel="highest request rate meeting the SLO (req/s)", xlim=(0, xmax * 1.18))
    ax.grid(axis="y", visible=False)
    doc = load_summary(runs[0])
    title = f"Max rate with >= {ATTAINMENT:.0%} of requests within SLO ({_slo_words(doc)})"
    return finish(fig, title, source_text(doc, runs[0].parent))


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
