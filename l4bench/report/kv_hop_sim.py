"""results/kv_hop/sim_h200_shared: L4 with recompute hops vs KV-transfer hops in the simulator (issue 16 item 4).

Layout (scripts/kv_hop_sim.sh): <backend>/<arm>/r<rate>/summary.json, arm = recompute | kv_transfer |
kv_cuda_ipc | kv_bound, each with experiment.repeats=R. Repeat r of every arm replays the same requests (checked on
the summaries' requests_sha256), so the ratios below are paired per repeat: geometric mean of the
per-repeat ratios with the t-interval of their logs (l4bench.metrics.ci.log_ratio_interval).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from l4bench.metrics.ci import log_ratio_interval, t_interval
from l4bench.report.blocks import register
from l4bench.report.repeats_eval import PairingError
from l4bench.report.tables import ratio_cell

SWEEP = Path("results") / "kv_hop" / "sim_h200_shared"
ARMS = ("recompute", "kv_transfer", "kv_cuda_ipc", "kv_bound")
FIELDS = ("mean_e2el_ms", "p99_e2el_ms", "migrations", "stall_s_total", "recomputed_tokens")


def collect(sweep: Path) -> pd.DataFrame:
    """One row per (backend, rate, arm, scheduler, repeat); refuses arms that replay other requests."""
    rows: list[dict[str, Any]] = []
    digests: dict[tuple[str, float, int], tuple[str, str]] = {}
    for path in sorted(sweep.glob("*/*/r*/summary.json")):
        backend, arm = path.parts[-4], path.parts[-3]
        doc = json.loads(path.read_text())
        rate = float(doc["meta"]["arrival"]["rate"])
        for rep in doc["per_repeat"]:
            seen = digests.setdefault((backend, rate, rep["repeat"]), (rep["requests_sha256"], str(path)))
            if seen[0] != rep["requests_sha256"]:
                raise PairingError(f"{path} and {seen[1]} replay different requests in repeat {rep['repeat']}")
            for name, s in rep["schedulers"].items():
                rows.append({"backend": backend, "rate": rate, "arm": arm, "scheduler": name,
                             "repeat": rep["repeat"], **{f: float(s.get(f) or 0.0) for f in FIELDS}})
    if not rows:
        raise PairingError(f"no summary.json under {sweep}")
    return pd.DataFrame(rows)


def _ci(values: Any, scale: float) -> str:
    ci = t_interval(values)
    if ci["low"] is None:
        return f"{ci['mean'] / scale:.2f}"
    return f"{ci['mean'] / scale:.2f} [{ci['low'] / scale:.2f}, {ci['high'] / scale:.2f}]"


def _ratio(g: pd.DataFrame, metric: str, a: tuple[str, str], b: tuple[str, str]) -> str:
    """Paired ratio of (arm, scheduler) a over b on metric, over the repeats both ran."""
    def runs(k: tuple[str, str]) -> pd.Series:
        sel = g[(g.arm == k[0]) & (g.scheduler == k[1])]
        return sel.set_index("repeat")[metric]

    x, y = runs(a), runs(b)
    both = x.index.intersection(y.index)
    if len(both) == 0:
        return "n/a"
    return ratio_cell(log_ratio_interval((x[both] / y[both]).to_numpy()))


def runs_markdown(df: pd.DataFrame) -> str:
    """Every (backend, rate, arm, scheduler): mean / p99 E2E [CI], moves, mean stall per move, recompute.

    Moves are the summaries' ``migrations``: bound hops and L4's balancing moves (both priced by the
    arm's migration model); the stall per move is ``stall_s_total`` over them, and recomputed tokens
    include preemptions.
    """
    lines = ["| backend | rate req/s | migration model | scheduler | repeats | mean E2E s | p99 E2E s | moves | "
             "stall per move s | recomputed tokens M |", "|" + "---|" * 10]
    order = {a: i for i, a in enumerate(ARMS)}
    keys = sorted(df.groupby(["backend", "rate", "arm", "scheduler"]).groups,
                  key=lambda k: (k[0], k[1], order.get(k[2], 9), k[3]))
    for backend, rate, arm, name in keys:
        g = df[(df.backend == backend) & (df.rate == rate) & (df.arm == arm) & (df.scheduler == name)]
        hops = g.migrations.mean()
        stall = g.stall_s_total.sum() / g.migrations.sum() if g.migrations.sum() > 0 else 0.0
        lines.append(f"| {backend} | {rate:g} | {arm} | {name} | {len(g)} | {_ci(g.mean_e2el_ms, 1e3)} | "
                     f"{_ci(g.p99_e2el_ms, 1e3)} | {hops:.0f} | {stall:.3f} | {g.recomputed_tokens.mean() / 1e6:.2f} |")
    return "\n".join(lines)


def ratios_markdown(df: pd.DataFrame) -> str:
    """Paired ratios: KV-transfer (measured, bound) hops over recompute hops, and L4 over its comparators."""
    pairs = [
        ("l4 KV (measured) / l4 recompute", ("kv_transfer", "l4"), ("recompute", "l4")),
        ("l4 KV (CUDA IPC, measured) / l4 recompute", ("kv_cuda_ipc", "l4"), ("recompute", "l4")),
        ("l4 KV (bound) / l4 recompute", ("kv_bound", "l4"), ("recompute", "l4")),
        ("always-hop KV (measured) / recompute", ("kv_transfer", "l4_always_hop"), ("recompute", "l4_always_hop")),
        ("always-hop KV (CUDA IPC) / recompute", ("kv_cuda_ipc", "l4_always_hop"), ("recompute", "l4_always_hop")),
        ("always-hop KV (bound) / recompute", ("kv_bound", "l4_always_hop"), ("recompute", "l4_always_hop")),
        ("always-hop / l4 (both recompute)", ("recompute", "l4_always_hop"), ("recompute", "l4")),
        ("l4 / l4_no_migration", ("recompute", "l4"), ("recompute", "l4_no_migration")),
        ("l4 KV (CUDA IPC) / l4_no_migration", ("kv_cuda_ipc", "l4"), ("recompute", "l4_no_migration")),
        ("l4 / least_requests", ("recompute", "l4"), ("recompute", "least_requests")),
    ]
    lines = ["| backend | rate req/s | ratio | mean E2E | p99 E2E |", "|---|---|---|---|---|"]
    for (backend, rate), g in df.groupby(["backend", "rate"]):
        for label, a, b in pairs:
            lines.append(f"| {backend} | {rate:g} | {label} | {_ratio(g, 'mean_e2el_ms', a, b)} | "
                         f"{_ratio(g, 'p99_e2el_ms', a, b)} |")
    return "\n".join(lines)


@register("kv_hop_sim_h200_shared")
def kv_hop_sim_h200_shared(root: Path) -> str:
    """The README body of results/kv_hop/sim_h200_shared: paired ratios, then every run."""
    df = collect(root / SWEEP)
    return ("Paired ratios over repeats (geometric mean [95% t-interval]; a CI containing 1 is within noise):\n\n"
            + ratios_markdown(df) + "\n\nEvery run (mean over repeats [95% t-interval]):\n\n" + runs_markdown(df))
