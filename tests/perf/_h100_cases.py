"""The H100 measurements of /work/shared/gpu/README.md replayed through the simulator + analytic model.

vLLM 0.25.0, dummy Llama-3-8B, FA3, 256 output tokens each, all requests sent at once; reported:
time per output token (TPOT) of the short (1k) requests, or of the long ones when alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from l4bench.perf.analytic import AnalyticPerfModel
from l4bench.perf.base import GpuSpec, ModelSpec
from l4bench.sim.simulator import Simulator
from l4bench.types import ClusterSpec, Decision, Request

CONF = Path(__file__).resolve().parents[2] / "conf"

#: name -> (number of 1k requests, long request lengths, measured TPOT ms)
CASES: dict[str, tuple[int, list[int], float]] = {
    "64x1k": (64, [], 26.3),
    "63x1k+1x64k": (63, [65536], 41.4),
    "60x1k+4x32k": (60, [32768] * 4, 45.2),
    "4x32k": (0, [32768] * 4, 30.0),
    "1x64k": (0, [65536], 17.7),
}


class OneInstance:
    """Everything on instance 0."""

    name = "one"
    rebalance_interval_s = None

    def route(self, req, views, now_s):  # type: ignore[no-untyped-def]
        """Instance 0."""
        return Decision(0)

    def on_finish(self, req, n, now_s):  # type: ignore[no-untyped-def]
        """Nothing."""


def h100_llama(**coeffs: float) -> AnalyticPerfModel:
    """Llama-3.1-8B on H100 with the shipped analytic coefficients (overridable)."""
    model = ModelSpec(**yaml.safe_load((CONF / "model/llama-3.1-8b.yaml").read_text()))
    gpu = GpuSpec(**yaml.safe_load((CONF / "gpu/h100.yaml").read_text()))
    kw = yaml.safe_load((CONF / "perf/analytic.yaml").read_text())
    kw.pop("_target_")
    kw.update(coeffs)
    return AnalyticPerfModel(model, gpu, 0.9, **kw)


def run_case(perf: AnalyticPerfModel, num_short: int, longs: list[int], long_first: bool) -> tuple[float, float]:
    """(mean TPOT in ms of the short requests, or of the long ones when alone; output tokens per second)."""
    prompts = (longs + [1024] * num_short) if long_first else ([1024] * num_short + longs)
    reqs = [Request(i, 0.0, p, 256) for i, p in enumerate(prompts)]
    cluster = ClusterSpec(1, 131072, perf.kv_capacity_tokens, 256, 8192)
    res = Simulator(perf, cluster, show_progress=False).run(reqs, OneInstance())  # type: ignore[arg-type]
    target = [r for r in res.records if r.prompt_tokens == 1024] or res.records
    tpot = np.mean([(r.finish_s - r.first_token_s) / 255 for r in target])
    return float(tpot * 1e3), 256 * len(reqs) / res.duration_s
