"""A fixed simulated replay (L4 + a hopping stand-in) reduced to its routes, for before/after checks."""

from __future__ import annotations

from typing import Any

import numpy as np
from _stand_ins import RoundRobinStandIn, random_requests

from l4bench.l4 import L4Scheduler
from l4bench.perf.analytic import AnalyticPerfModel
from l4bench.perf.base import GpuSpec, ModelSpec
from l4bench.sim.simulator import Simulator
from l4bench.types import ClusterSpec

TINY = ModelSpec("tiny", 2, 256, 4, 2, 64, 512, 4096, 65536)
H100 = GpuSpec("h100", 85520809984, 3.35e12, 989e12)


def routes(**sim_kw: Any) -> dict[str, list[list[Any]]]:
    """Per scheduler, per request: instances, recomputed tokens, stall and finish (rounded to 1 ns)."""
    perf = AnalyticPerfModel(TINY, H100)
    cluster = ClusterSpec(4, 4096, kv_capacity_tokens=20_000, max_num_seqs=16, max_num_batched_tokens=256)
    reqs = random_requests(np.random.default_rng(3), 300, rate=40.0, max_prompt=1500, max_output=600)
    scheds = {
        "l4": L4Scheduler(cluster, perf, np.random.default_rng(0), resolve_interval_s=2.0, min_history_requests=16,
                          hop_payback=0.0, prior_num_stages=2, rebalance_interval_s=0.5, **sim_kw.pop("l4_kw", {})),
        "hop_rr": RoundRobinStandIn(4, hop_at_tokens=700),
    }
    out = {}
    for name, sched in scheds.items():
        res = Simulator(perf, cluster, np.random.default_rng(0), show_progress=False, **sim_kw).run(reqs, sched)
        out[name] = [[r.instances, r.recomputed_tokens, round(r.stall_s, 9), round(r.finish_s or -1.0, 9)]
                     for r in res.records]
    return out
