"""L4's DP solve time over a grid of length bins x instances -> results/bench/dp_solve_time.csv.

For each (K bins, N instances): a seeded Mooncake-like window (lognormal prompts, median 7k tokens;
lognormal outputs, median 350; 0.8 req/s per instance over 120 s), its bin histogram, the stage-cost
table (``stage_cost_table``, Llama-3.1-8B on H100 through the analytic perf model's affine fit) and
the DP (``partition``). Times are medians over repeats, on this machine's CPU (one thread).

    python benchmarks/bench_dp_grid.py [--bins 8 16 32 64 128] [--instances 4 8 16 32 64]
        [--repeats 5] [--out results/bench/dp_solve_time.csv]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from l4bench.l4 import (  # noqa: E402
    CostParams,
    Objective,
    bin_stats,
    fit_affine,
    make_bin_edges,
    partition,
    stage_cost_table,  # noqa: E402
)
from l4bench.perf.analytic import AnalyticPerfModel  # noqa: E402
from l4bench.perf.base import GpuSpec, ModelSpec  # noqa: E402

MAX_MODEL_LEN = 131072
CHUNK_TOKENS = 8192
MAX_NUM_SEQS = 256
WINDOW_S = 120.0
RATE_PER_INSTANCE = 0.8


def _specs() -> tuple[ModelSpec, GpuSpec]:
    """Llama-3.1-8B and H100 from the repo's config files (no Hydra)."""
    import yaml

    model = yaml.safe_load((REPO / "conf" / "model" / "llama-3.1-8b.yaml").read_text())
    gpu = yaml.safe_load((REPO / "conf" / "gpu" / "h100.yaml").read_text())
    model.pop("_target_", None)
    gpu.pop("_target_", None)
    return ModelSpec(**model), GpuSpec(**gpu)


def _window(num_instances: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Prompt and output lengths of one window of requests."""
    n = int(RATE_PER_INSTANCE * num_instances * WINDOW_S)
    prompts = np.minimum(rng.lognormal(np.log(7000), 1.0, n), MAX_MODEL_LEN - 2048).astype(np.int64) + 1
    outputs = np.minimum(rng.lognormal(np.log(350), 0.6, n), 2000).astype(np.int64) + 1
    return prompts, outputs


def measure(num_bins: int, num_instances: int, repeats: int, step, kv_capacity: int) -> dict[str, float]:
    """Median table and solve times (seconds) of one grid point."""
    rng = np.random.default_rng(1000 * num_bins + num_instances)
    edges = make_bin_edges(num_bins, 64, MAX_MODEL_LEN)
    stats = bin_stats(edges, *_window(num_instances, rng), WINDOW_S)
    params = CostParams(Objective.MEAN_E2E, 0.95, kv_capacity, MAX_NUM_SEQS, CHUNK_TOKENS, 1.0, True, 5.0, 0.1)
    table_s, solve_s, stages = [], [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        table = stage_cost_table(stats, edges, num_instances, step, params)
        t1 = time.perf_counter()
        try:
            part = partition(table.cost)
        except ValueError:
            part = partition(table.fallback)
        t2 = time.perf_counter()
        table_s.append(t1 - t0)
        solve_s.append(t2 - t1)
        stages = part.num_stages
    return {"num_bins": num_bins, "num_instances": num_instances, "table_s": float(np.median(table_s)),
            "solve_s": float(np.median(solve_s)), "num_stages": stages, "repeats": repeats}


def main(argv: list[str] | None = None) -> int:
    """Run the grid; write the CSV and a JSON of machine facts beside it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bins", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    ap.add_argument("--instances", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=REPO / "results" / "bench" / "dp_solve_time.csv")
    args = ap.parse_args(argv)
    model, gpu = _specs()
    perf = AnalyticPerfModel(model, gpu)
    step = fit_affine(perf, MAX_MODEL_LEN, MAX_NUM_SEQS, CHUNK_TOKENS, perf.kv_capacity_tokens)
    rows = []
    for k in args.bins:
        for n in args.instances:
            rows.append(measure(k, n, args.repeats, step, perf.kv_capacity_tokens))
            r = rows[-1]
            print(f"K={k:4d} N={n:3d}  table {r['table_s'] * 1e3:8.2f} ms  solve {r['solve_s'] * 1e3:8.2f} ms  "
                  f"stages {r['num_stages']}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False, float_format="%.6g")
    facts = {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
             "cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
             "model": model.name, "gpu": gpu.name, "perf_model": perf.name, "window_s": WINDOW_S,
             "rate_per_instance": RATE_PER_INSTANCE, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    args.out.with_suffix(".json").write_text(json.dumps(facts, indent=2))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
