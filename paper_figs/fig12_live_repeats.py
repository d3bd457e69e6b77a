"""Fig. 12: live mean E2E per scheduler and repeat, with its 95% CI, beside the simulator twin.

Data: every ``results/live/*_repeats/`` folder (issue 15's per-backend live runs): ``live/summary.json``
(repeats joined from several device sessions by ``python -m l4bench.merge_runs``) and
``sim/summary.json`` (the twin of the same repeats). One row per folder, one panel per repeat:
live bars with the run's request-bootstrap CI, twin bars hatched; a scheduler a repeat did not run
live has only its twin bar.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from l4bench.plotting.style import color_for, label_for, order_schedulers
from paper_figs.canvas import finish, new_figure
from paper_figs.common import MissingDataError, rel

NAME = "fig12_live_repeats"
EXPERIMENTS = ("live_gpu_triton",)


def folders(results: Path) -> list[Path]:
    """The live/*_repeats folders that hold both halves."""
    found = [d for d in sorted((results / "live").glob("*_repeats"))
             if (d / "live" / "summary.json").is_file() and (d / "sim" / "summary.json").is_file()]
    if not found:
        raise MissingDataError("no results/live/*_repeats/ (live + sim summaries); make them with: python -m "
                               "l4bench +experiment=live_gpu_triton (GPUs), python -m l4bench.merge_runs, and "
                               "python -m l4bench +experiment=live_gpu_triton_sim")
    return found


def _label(doc: dict[str, Any]) -> str:
    prov, meta = doc.get("provenance", {}), doc.get("meta", {})
    gpu = prov.get("gpu") or {}
    n, count = meta.get("num_instances", "?"), gpu.get("count")
    where = (f"sharing {count} {gpu.get('name', '?')}" if isinstance(n, int) and isinstance(count, int) and count < n
             else f"on {gpu.get('name', meta.get('gpu', '?'))}")
    return f"{prov.get('engine', '?')} {prov.get('engine_version', '')}, {prov.get('attention_backend', '?')}, {n} instances {where}"


def build(results: Path) -> Figure:
    """Grouped bars: schedulers on x, live (with CI) and twin side by side, one panel per repeat."""
    dirs = folders(results)
    docs = [(json.loads((d / "live" / "summary.json").read_text()), json.loads((d / "sim" / "summary.json").read_text()))
            for d in dirs]
    ncols = max(len(live["per_repeat"]) for live, _ in docs)
    fig, axes = new_figure(len(docs), ncols, width=5.0 * ncols + 2.0, height=3.6 * len(docs))
    for row, (live, sim) in enumerate(docs):
        twin = {e["repeat"]: e["schedulers"] for e in sim["per_repeat"]}
        for col, entry in enumerate(live["per_repeat"]):
            ax = axes[row * ncols + col]
            r = entry["repeat"]
            names = order_schedulers(n for n in twin.get(r, {}) if n in live["schedulers"])
            x = np.arange(len(names))
            for i, name in enumerate(names):
                s = entry["schedulers"].get(name)
                if s is not None:
                    ci = (s.get("bootstrap_ci95") or {}).get("mean_e2el_ms") or {}
                    v = s["mean_e2el_ms"] / 1e3
                    err = ([[v - ci["low"] / 1e3], [ci["high"] / 1e3 - v]] if ci.get("low") is not None else None)
                    ax.bar(x[i] - 0.2, v, 0.4, color=color_for(name), yerr=err, capsize=3)
                else:
                    ax.text(x[i] - 0.2, 0.0, "not run", rotation=90, ha="center", va="bottom", fontsize=7)
                ax.bar(x[i] + 0.2, twin[r][name]["mean_e2el_ms"] / 1e3, 0.4, color=color_for(name), alpha=0.45,
                       hatch="///", edgecolor=color_for(name))
            ax.set_xticks(x, [label_for(n) for n in names], rotation=30, ha="right", fontsize=8)
            ax.set(ylabel="mean E2E (s)", title=f"{_label(live)}\nrepeat {r}")
            ax.title.set_fontsize(8)
            ax.grid(axis="x", visible=False)
        for col in range(len(live["per_repeat"]), ncols):
            axes[row * ncols + col].set_visible(False)
    fig.legend([Patch(facecolor="0.3"), Patch(facecolor="0.3", alpha=0.45, hatch="///")],
               ["live (95% CI: request bootstrap)", "simulator twin"], loc="outside right center")
    source = "Data: " + "; ".join(rel(d) for d in dirs)
    return finish(fig, "Live vs simulator twin per repeat, issue 15's workloads", source)


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
