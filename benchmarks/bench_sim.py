"""Simulator speed: replay the Mooncake conversation trace through N simulated H100 instances.

Measures simulated seconds per wall second of ``Simulator.run`` (Llama-3.1-8B, analytic perf model,
vLLM defaults: max_num_seqs 256, max_num_batched_tokens 8192, gpu_memory_utilization 0.9).

    python benchmarks/bench_sim.py [--data-dir DIR] [--instances 16] [--num-requests N]
        [--scheduler round_robin|least_tokens] [--step-by-step]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from l4bench.perf.analytic import AnalyticPerfModel  # noqa: E402
from l4bench.perf.base import GpuSpec, ModelSpec  # noqa: E402
from l4bench.sim.simulator import Simulator  # noqa: E402
from l4bench.types import ClusterSpec, Decision, InstanceView, Request  # noqa: E402


class LeastTokensDispatch:
    """Local stand-in: send each arrival to the instance with the fewest resident + queued tokens."""

    name = "least_tokens_local"
    rebalance_interval_s = None

    def route(self, req: Request, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Least num_tokens, lowest id on ties."""
        return Decision(min(views, key=lambda v: (v.num_tokens, v.instance_id)).instance_id)

    def on_bound(self, req: Request, ctx: int, src: int, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Never bound."""
        return self.route(req, views, now_s)

    def rebalance(self, views: Sequence[InstanceView], now_s: float) -> list:
        """No migrations."""
        return []

    def on_finish(self, req: Request, num_output_tokens: int, now_s: float) -> None:
        """Nothing to learn."""


def load_mooncake(data_dir: Path, num_requests: int | None) -> list[Request]:
    """Mooncake conversation trace -> Requests (timestamps in ms -> arrival_s)."""
    path = data_dir / "mooncake" / "conversation_trace.jsonl"
    if not path.exists():
        sys.exit(f"--data-dir: {path} not found; valid: a folder holding mooncake/conversation_trace.jsonl")
    out: list[Request] = []
    with path.open() as f:
        for i, line in enumerate(f):
            if num_requests is not None and i >= num_requests:
                break
            row = json.loads(line)
            out.append(Request(i, row["timestamp"] / 1000.0, int(row["input_length"]), int(row["output_length"])))
    return out


def make_scheduler(name: str, cluster: ClusterSpec, perf: AnalyticPerfModel) -> object:
    """The repo's round_robin when present, else the local least-tokens stand-in."""
    if name == "round_robin":
        from l4bench.sched.round_robin import RoundRobinScheduler

        return RoundRobinScheduler(cluster, perf, np.random.default_rng(0))
    return LeastTokensDispatch()


def main() -> None:
    """Parse args, run once, print the numbers."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = os.environ.get("L4BENCH_DATA_DIR", str(REPO.parent / "shared" / "workloads"))
    ap.add_argument("--data-dir", default=default_dir)
    ap.add_argument("--instances", type=int, default=16)
    ap.add_argument("--num-requests", type=int, default=None, help="first N requests (default: all)")
    ap.add_argument("--scheduler", choices=["round_robin", "least_tokens"], default="least_tokens")
    ap.add_argument("--gpu", choices=["h100", "h200"], default="h100")
    ap.add_argument("--step-by-step", action="store_true", help="disable decode fast-forward")
    args = ap.parse_args()

    model = ModelSpec(**yaml.safe_load((REPO / "conf/model/llama-3.1-8b.yaml").read_text()))
    gpu = GpuSpec(**yaml.safe_load((REPO / f"conf/gpu/{args.gpu}.yaml").read_text()))
    coeffs = yaml.safe_load((REPO / "conf/perf/analytic.yaml").read_text())
    coeffs.pop("_target_")
    perf = AnalyticPerfModel(model, gpu, 0.9, **coeffs)
    cluster = ClusterSpec(args.instances, model.max_model_len, perf.kv_capacity_tokens, 256, 8192)
    requests = load_mooncake(Path(args.data_dir), args.num_requests)
    sim = Simulator(perf, cluster, np.random.default_rng(0), timeline_interval_s=10.0, show_progress=False,
                    fast_forward=not args.step_by_step)
    sched = make_scheduler(args.scheduler, cluster, perf)
    wall0 = time.perf_counter()
    result = sim.run(requests, sched)  # type: ignore[arg-type]
    wall_s = time.perf_counter() - wall0
    done = [r for r in result.records if r.is_completed]
    ttft = np.array([r.first_token_s - r.arrival_s for r in done])
    steps = result.extra["num_steps"]
    print(f"measured: Simulator.run on {len(requests)} Mooncake conversation requests, {args.instances} x "
          f"{model.name} on {gpu.name} (analytic perf, kv {perf.kv_capacity_tokens} tokens/instance), "
          f"scheduler {getattr(sched, 'name', '?')}, fast_forward={not args.step_by_step}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print(f"simulated_s    {result.duration_s:12.1f}")
    print(f"wall_s         {wall_s:12.2f}")
    print(f"ratio          {result.duration_s / wall_s:12.1f} simulated s per wall s")
    print(f"steps          {steps:12d} ({steps / wall_s:,.0f} steps/s)")
    print(f"requests       {len(done):12d} completed, {len(result.records) - len(done)} failed "
          f"({len(done) / wall_s:,.0f} req/s)")
    print(f"preemptions    {sum(r.num_preemptions for r in result.records):12d}")
    print(f"ttft_s         mean {ttft.mean():.3f}  p99 {np.percentile(ttft, 99):.3f}")
    print(f"batch_spread   {np.mean(result.batch_spread):12.2f} (mean over instances)")


if __name__ == "__main__":
    main()
