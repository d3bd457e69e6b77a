"""L4 core speed: DP solve time (64 bins x 64 instances) and per-request route() cost.

Uses the analytic perf model (Llama-3.1-8B on H100) when l4bench/perf/analytic.py is present, else a
linear stand-in. Prints one line per measurement plus a JSON summary.

    python benchmarks/bench_l4.py [--repeats 21] [--route-calls 20000]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from l4bench.l4 import (  # noqa: E402
    L4Scheduler,
    Partition,
    bin_stats,
    fit_affine,
    make_bin_edges,
    partition,
    stage_cost_table,
)
from l4bench.perf.base import BatchShape, GpuSpec, ModelSpec  # noqa: E402
from l4bench.types import ClusterSpec, InstanceView, Request  # noqa: E402


class _LinearPerf:
    name = "linear"
    kv_capacity_tokens = 400_000

    def step_time_s(self, b: BatchShape) -> float:
        return 0.01 + 2e-5 * b.num_tokens + 5e-8 * b.decode_context_sum


def perf_model() -> tuple[object, str]:
    """The analytic model if available, else the linear stand-in."""
    try:
        from l4bench.perf.analytic import AnalyticPerfModel
    except ImportError:
        return _LinearPerf(), "linear stand-in"

    def load(p: str) -> dict[str, object]:
        d = yaml.safe_load((REPO / p).read_text())
        d.pop("_target_", None)
        return d

    model = ModelSpec(**load("conf/model/llama-3.1-8b.yaml"))
    gpu = GpuSpec(**load("conf/gpu/h100.yaml"))
    return AnalyticPerfModel(model, gpu), "analytic (llama-3.1-8b, h100)"


def timeit(fn: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of fn over repeats (after one warm-up)."""
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def workload(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Lognormal prompts (median ~2k, long tail to 128k) and outputs (median ~150)."""
    p = np.clip(rng.lognormal(7.6, 1.6, n), 16, 120_000).astype(np.int64)
    o = np.clip(rng.lognormal(5.0, 1.0, n), 1, 4000).astype(np.int64)
    return p, o


def bench_dp(perf: object, repeats: int) -> dict[str, float]:
    """Cost table build, DP solve and their sum for 64 bins x 64 instances."""
    K, N, max_len = 64, 64, 131072
    rng = np.random.default_rng(0)
    edges = make_bin_edges(K, 32, max_len)
    cluster = ClusterSpec(N, max_len, int(getattr(perf, "kv_capacity_tokens", 400_000)))
    step = fit_affine(
        perf, max_len, cluster.max_num_seqs, cluster.max_num_batched_tokens, cluster.kv_capacity_tokens
    )
    sched = L4Scheduler(cluster, perf, rng, num_bins=K, min_bin_tokens=32)  # type: ignore[arg-type]
    p, o = workload(rng, 20_000)
    st = bin_stats(edges, p, o, window_s=120.0)
    table = stage_cost_table(st, edges, N, step, sched.cost_params)
    cost = table.cost if np.isfinite(partition(table.fallback).total_cost) else table.fallback
    try:
        partition(cost)
    except ValueError:
        cost = table.fallback
    plan = partition(cost)
    t_table = timeit(lambda: stage_cost_table(st, edges, N, step, sched.cost_params), repeats)
    t_dp = timeit(lambda: partition(cost), repeats)
    t_rand = timeit(lambda: partition(rng.random((K + 1, K + 1, N + 1))), repeats)
    t_stats = timeit(lambda: bin_stats(edges, p, o, 120.0), repeats)
    print(
        f"DP plan on the lognormal workload: {plan.num_stages} stages, instances {plan.instances_per_stage}"
    )
    return {
        "dp_solve_ms": t_dp * 1e3,
        "dp_solve_random_cost_ms": t_rand * 1e3,
        "cost_table_ms": t_table * 1e3,
        "histogram_20k_requests_ms": t_stats * 1e3,
        "full_resolve_ms": (t_dp + t_table + t_stats) * 1e3,
    }


def views_for(n: int, rng: np.random.Generator, cap: int) -> list[InstanceView]:
    """Busy-looking aggregate views (no per-request detail, as route() gets them)."""
    out = []
    for i in range(n):
        k = int(rng.integers(1, 64))
        ctx = rng.integers(100, 20_000, k)
        out.append(
            InstanceView(i, k, 1, int(ctx.sum()), 500, int(ctx.max()), int(ctx.min()), int(ctx.sum()), cap)
        )
    return out


def bench_route(perf: object, n: int, calls: int, single_stage: bool) -> float:
    """Microseconds per route() call with a solved plan (or one stage holding all n instances)."""
    rng = np.random.default_rng(1)
    cluster = ClusterSpec(n, 131072, int(getattr(perf, "kv_capacity_tokens", 400_000)))
    s = L4Scheduler(cluster, perf, rng, min_history_requests=200, resolve_interval_s=1.0)  # type: ignore[arg-type]
    p, o = workload(rng, calls + 400)
    views = views_for(n, rng, cluster.kv_capacity_tokens)
    for r in range(400):  # warm up: history, one DP solve
        s.route(Request(r, r * 0.01, int(p[r]), int(o[r])), views, r * 0.01)
        s.on_finish(Request(r, 0.0, 1, 1), int(o[r]), r * 0.01)
    s.resolve_interval_s = 1e12
    s.route(Request(400, 5.0, 100, 10), views, 5.0)  # the last solve before timing
    if single_stage:
        s.apply_partition(Partition((len(s.edges) - 1,), (n,), 0.0))
    reqs = [Request(r, 5.0, int(p[r]), int(o[r])) for r in range(calls)]
    t0 = time.perf_counter()
    for q in reqs:
        s.route(q, views, 5.0)
    return (time.perf_counter() - t0) / calls * 1e6


def main() -> None:
    """Run the measurements and print them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--route-calls", type=int, default=20_000)
    args = ap.parse_args()
    perf, perf_name = perf_model()
    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
        "perf_model": perf_name,
    }
    print(json.dumps(info))
    res = bench_dp(perf, args.repeats)
    print(
        f"DP solve 64 bins x 64 instances: {res['dp_solve_ms']:.2f} ms (median of {args.repeats}; goal <= 10 ms)"
    )
    print(
        f"  random cost table: {res['dp_solve_random_cost_ms']:.2f} ms; cost table build: {res['cost_table_ms']:.2f} ms; "
        f"histogram of 20k requests: {res['histogram_20k_requests_ms']:.2f} ms; full re-solve: {res['full_resolve_ms']:.2f} ms"
    )
    for n in (16, 64):
        for single in (False, True):
            us = bench_route(perf, n, args.route_calls, single)
            key = f"route_us_{n}{'_one_stage' if single else ''}"
            res[key] = us
            label = "one stage holding all instances (worst case)" if single else "DP plan"
            print(f"route() with {n} instances, {label}: {us:.1f} us/request (goal <= 50 us)")
    print(json.dumps({**info, **{k: round(v, 3) for k, v in res.items()}}))


if __name__ == "__main__":
    main()
