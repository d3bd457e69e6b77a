"""Fig. 10: L4's stages during one run: length boundaries, instances per stage, per-stage load.

Data: L4's timeline.json snapshots of the ``fig_timeline`` run
(``python -m l4bench +experiment=fig_timeline``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import LogLocator

from paper_figs.canvas import KTOKENS, finish, new_figure
from paper_figs.common import MissingDataError, latest_run, load_summary, load_timeline, source_text

NAME = "fig10_timeline"
EXPERIMENTS = ("fig_timeline",)
SCHEDULER = "l4"
Y_MIN_TOKENS = 256  # the first stage's lower end (0) cannot sit on a log axis


def _snapshots(run: Path) -> list[dict[str, Any]]:
    snaps = [s for s in load_timeline(run).get(SCHEDULER, []) if s.get("boundaries_tokens")]
    if len(snaps) < 2:
        raise MissingDataError(f"{run} has no L4 timeline; rerun: python -m l4bench +experiment=fig_timeline")
    return sorted(snaps, key=lambda s: s["t_s"])


def _stage_load(snap: dict[str, Any], num_stages: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean running requests and mean context tokens per instance of each stage."""
    stage = np.asarray(snap.get("stage_of_instance", []), dtype=int)
    running = np.asarray(snap.get("num_running", []), dtype=float)
    ctx = np.asarray(snap.get("num_context_tokens", []), dtype=float)
    run_s, ctx_s = np.full(num_stages, np.nan), np.full(num_stages, np.nan)
    if stage.size and stage.size == running.size == ctx.size:
        for s in range(num_stages):
            sel = stage == s
            if sel.any():
                run_s[s], ctx_s[s] = running[sel].mean(), ctx[sel].mean()
    return run_s, ctx_s


def build(results: Path) -> Figure:
    """Bands of stage length ranges (top), instances per stage (middle), per-stage load (bottom)."""
    run = latest_run(results, "fig_timeline")
    snaps = _snapshots(run)
    doc = load_summary(run)
    max_len = int(doc.get("meta", {}).get("max_model_len") or max(max(s["boundaries_tokens"]) for s in snaps))
    max_stages = max(len(s["boundaries_tokens"]) for s in snaps)
    colors = sns.color_palette("viridis", max_stages)
    times = [float(s["t_s"]) for s in snaps]
    dt = np.diff(times).min() if len(times) > 1 else 1.0
    ends = times[1:] + [times[-1] + dt]
    fig, (ax_b, ax_n, ax_l) = new_figure(3, 1, width=9.5, height=8.0)
    loads = np.full((len(snaps), max_stages), np.nan)
    counts = np.zeros((len(snaps), max_stages))
    for i, (snap, t0, t1) in enumerate(zip(snaps, times, ends, strict=True)):
        lo = float(Y_MIN_TOKENS)
        for s, hi in enumerate(snap["boundaries_tokens"]):
            hi = min(float(hi or max_len), max_len)
            ax_b.add_patch(Rectangle((t0, lo), t1 - t0, hi - lo, color=colors[s], lw=0, alpha=0.85))
            lo = hi
        per = snap.get("instances_per_stage", [])
        counts[i, : len(per)] = per
        loads[i, : len(per)] = _stage_load(snap, len(per))[0]
    ax_b.set(xlim=(times[0], ends[-1]), ylim=(Y_MIN_TOKENS, max_len), ylabel="context length (tokens)",
             title="stage length ranges (request context; stage 1 starts at 0)")
    ax_b.set_yscale("log", base=2)
    ax_b.yaxis.set_major_locator(LogLocator(base=4))
    ax_b.yaxis.set_major_formatter(KTOKENS)
    xs = [*times, ends[-1]]  # step="post": row i holds on [times[i], times[i + 1])
    counts, loads = np.vstack([counts, counts[-1:]]), np.vstack([loads, loads[-1:]])
    ax_n.stackplot(xs, counts.T, colors=colors, step="post", alpha=0.85)
    ax_n.set(xlim=ax_b.get_xlim(), ylabel="instances", title="instances per stage",
             ylim=(0, counts.sum(axis=1).max()))
    for s in range(max_stages):
        ax_l.step(xs, loads[:, s], where="post", color=colors[s], lw=1.6)
    ax_l.set(xlim=ax_b.get_xlim(), xlabel="time (s)", ylabel="running requests\nper instance",
             title="per-stage load (mean over the stage's instances)")
    handles = [Patch(color=colors[s]) for s in range(max_stages)]
    fig.legend(handles, [f"stage {s + 1}" for s in range(max_stages)], loc="outside right center",
               title="stage (short to long)")
    return finish(fig, "L4 stages over time", source_text(doc, run))


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
